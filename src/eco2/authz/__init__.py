"""Envoy ext_authz server (``eco2 authz``): the gateway's auth offloading.

Shares token verification with the app (``eco2.platform.security``) but never imports the
Litestar app: it is a small gRPC process that answers ``Authorization/Check`` for every
request the gateway routes.
"""
