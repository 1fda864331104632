"""Identity: auth (linked accounts, login audit, refresh tokens), users, character.

Revision ID: 0001_identity
Revises:
Create Date: 2026-11-26 20:27:08.003534
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_identity"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SCHEMAS = ("auth", "users", "character")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    op.create_table(
        "linked_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linked_accounts")),
        sa.UniqueConstraint(
            "provider",
            "provider_user_id",
            name=op.f("uq_linked_accounts_provider_provider_user_id"),
        ),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_linked_accounts_user_id"),
        "linked_accounts",
        ["user_id"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        "ix_linked_accounts_verified_email",
        "linked_accounts",
        ["email"],
        unique=False,
        schema="auth",
        postgresql_where="email_verified",
    )
    op.create_table(
        "login_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_audit")),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_login_audit_user_id"), "login_audit", ["user_id"], unique=False, schema="auth"
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_tokens")),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_refresh_tokens_family_id"),
        "refresh_tokens",
        ["family_id"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_refresh_tokens_user_id"),
        "refresh_tokens",
        ["user_id"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "characters",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("middle_category", sa.String(length=32), nullable=True),
        sa.Column("type_label", sa.String(length=32), nullable=False),
        sa.Column("dialog", sa.String(length=200), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_characters")),
        sa.UniqueConstraint("middle_category", name=op.f("uq_characters_middle_category")),
        sa.UniqueConstraint("name", name=op.f("uq_characters_name")),
        schema="character",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("nickname", sa.String(length=20), nullable=False),
        sa.Column("phone_number", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("profile_image_url", sa.String(length=2048), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="users",
    )
    op.create_table(
        "ownerships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("character_code", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_code"],
            ["character.characters.code"],
            name=op.f("fk_ownerships_character_code_characters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownerships")),
        sa.UniqueConstraint(
            "user_id", "character_code", name=op.f("uq_ownerships_user_id_character_code")
        ),
        schema="character",
    )
    op.create_index(
        op.f("ix_character_ownerships_user_id"),
        "ownerships",
        ["user_id"],
        unique=False,
        schema="character",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_character_ownerships_user_id"), table_name="ownerships", schema="character"
    )
    op.drop_table("ownerships", schema="character")
    op.drop_table("users", schema="users")
    op.drop_table("characters", schema="character")
    op.drop_index(
        op.f("ix_auth_refresh_tokens_user_id"), table_name="refresh_tokens", schema="auth"
    )
    op.drop_index(
        op.f("ix_auth_refresh_tokens_family_id"), table_name="refresh_tokens", schema="auth"
    )
    op.drop_table("refresh_tokens", schema="auth")
    op.drop_index(op.f("ix_auth_login_audit_user_id"), table_name="login_audit", schema="auth")
    op.drop_table("login_audit", schema="auth")
    op.drop_index(
        "ix_linked_accounts_verified_email",
        table_name="linked_accounts",
        schema="auth",
        postgresql_where="email_verified",
    )
    op.drop_index(
        op.f("ix_auth_linked_accounts_user_id"), table_name="linked_accounts", schema="auth"
    )
    op.drop_table("linked_accounts", schema="auth")
    for schema in reversed(SCHEMAS):
        op.execute(f'DROP SCHEMA IF EXISTS "{schema}"')
