"""``azure``: Azure AI Vision Image Analysis 4.0 (tags, objects, caption, OCR) as evidence.

The service looks at the photo by URL; its English labels vote for taxonomy categories
(:mod:`vocabulary`), OCR text and the user's words go through the Korean retrieval.
"""

from __future__ import annotations

from typing import Any

from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
from azure.ai.vision.imageanalysis.models import ImageAnalysisResult, VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from eco2.domains.scan.providers.base import Observation, ProviderError, ScanInput
from eco2.domains.scan.providers.evidence import decide
from eco2.domains.scan.providers.retry import (
    Failure,
    RetryPolicy,
    parse_retry_after,
    status_failure,
    with_retries,
)
from eco2.domains.scan.providers.vocabulary import vote
from eco2.platform.model_calls import model_call
from eco2.settings import Settings

IMAGE_ANALYSIS_MODEL = "image-analysis-4.0"  # the service's API version: it names no model
FEATURES = [
    VisualFeatures.TAGS,
    VisualFeatures.OBJECTS,
    VisualFeatures.CAPTION,
    VisualFeatures.READ,
]


def classify_error(exc: Exception) -> Failure | None:
    if isinstance(exc, HttpResponseError) and exc.status_code:
        headers = getattr(exc.response, "headers", None) or {}
        return status_failure(exc.status_code, parse_retry_after(headers.get("retry-after")))
    if isinstance(exc, ServiceResponseError | TimeoutError):
        return Failure("model_timeout", True)
    if isinstance(exc, ServiceRequestError):
        return Failure("model_unavailable", True)
    return None


def labels(result: ImageAnalysisResult) -> list[tuple[str, float]]:
    found = [(t.name, t.confidence) for t in (result.tags.list if result.tags else [])]
    for obj in result.objects.list if result.objects else []:
        found += [(t.name, t.confidence) for t in obj.tags]
    if result.caption:
        found.append((result.caption.text, result.caption.confidence * 0.8))
    return found


def ocr_text(result: ImageAnalysisResult) -> str:
    if not result.read:
        return ""
    return " ".join(line.text for block in result.read.blocks for line in block.lines)[:300]


class AzureVision:
    name = "azure"

    def __init__(self, client: ImageAnalysisClient, policy: RetryPolicy, timeout: float) -> None:
        self._client, self._policy, self._timeout = client, policy, timeout

    @classmethod
    def from_settings(cls, settings: Settings, policy: RetryPolicy) -> AzureVision:
        if not settings.azure_vision_endpoint or not settings.azure_vision_key:
            raise ProviderError("provider_not_configured", "set ECO2_AZURE_VISION_ENDPOINT/KEY")
        client = ImageAnalysisClient(
            endpoint=settings.azure_vision_endpoint,
            credential=AzureKeyCredential(settings.azure_vision_key),
            retry_total=0,  # bounded by our policy instead
        )
        return cls(client, policy, settings.model_timeout_seconds)

    async def _analyze(self, url: str) -> Any:
        return await self._client.analyze_from_url(
            image_url=url,
            visual_features=FEATURES,
            language="en",
            gender_neutral_caption=True,
            connection_timeout=5,
            read_timeout=self._timeout,
        )

    async def observe(self, scan: ScanInput) -> Observation:
        async with model_call(self.name, IMAGE_ANALYSIS_MODEL, "image_analysis"):
            result = await with_retries(
                lambda: self._analyze(scan.image_url), classify_error, self._policy, self.name
            )
        found = labels(result)
        text = ocr_text(result)
        evidence = tuple(f"{n}:{c:.2f}" for n, c in found[:12]) + ((f"ocr:{text}",) if text else ())
        return await decide(
            vote(found), user_input=scan.user_input, ocr=text, provider=self.name, evidence=evidence
        )

    async def close(self) -> None:
        await self._client.close()
