"""Outcome ↔ stored row ↔ the client's response shape."""

from __future__ import annotations

import uuid
from typing import Any, Literal, cast

import msgspec

from eco2.domains.character.schemas import Reward
from eco2.domains.scan.models import Scan
from eco2.domains.scan.pipeline import Outcome
from eco2.domains.scan.schemas import (
    Classification,
    ClassificationResult,
    DisposalRules,
    FinalAnswer,
    PipelineResult,
    ScanError,
    ScanResponse,
)
from eco2.platform.db import utcnow

Status = Literal["queued", "running", "completed", "failed"]

MESSAGES = {
    "completed": "분석이 완료되었어요.",
    "unclassified": "사진 속 물건을 알아보지 못했어요. 물건이 잘 보이게 다시 찍어 주세요.",
    "queued": "분석을 기다리고 있어요.",
    "running": "분석 중이에요.",
    "failed": "분석하지 못했어요. 잠시 후 다시 시도해 주세요.",
}
ERROR_MESSAGES = {
    "model_timeout": "분석 모델의 응답이 늦어요. 잠시 후 다시 시도해 주세요.",
    "scan_timeout": "분석 시간이 너무 오래 걸렸어요. 잠시 후 다시 시도해 주세요.",
    "model_rate_limited": "요청이 많아 분석하지 못했어요. 잠시 후 다시 시도해 주세요.",
    "image_too_large": "사진 파일이 너무 커요.",
    "image_fetch_failed": "사진을 불러오지 못했어요. 다시 올려 주세요.",
    "image_unreadable": "사진을 읽을 수 없어요. 다른 사진으로 시도해 주세요.",
    "scan_abandoned": "분석이 중단되었어요. 다시 시도해 주세요.",
}


def pipeline_result(outcome: Outcome) -> PipelineResult | None:
    obs, grounding, answer = outcome.observation, outcome.grounding, outcome.answer
    if obs is None or grounding is None or answer is None or not obs.classified:
        return None
    rules = grounding.rules
    return PipelineResult(
        classification_result=ClassificationResult(
            classification=Classification(obs.major, obs.middle, obs.minor),
            situation_tags=[str(c) for c in obs.conditions],
            confidence=obs.confidence,
            provider=obs.provider,
        ),
        disposal_rules=DisposalRules(
            title=rules.title,
            summary=rules.summary,
            rules=[str(r) for r in rules.rules],
            tips=list(rules.tips),
        ),
        final_answer=FinalAnswer(
            disposal_steps=answer.disposal_steps,
            insufficiencies=answer.insufficiencies,
            user_answer=answer.user_answer,
        ),
    )


def response_for(scan_id: uuid.UUID, outcome: Outcome) -> ScanResponse:
    result = pipeline_result(outcome)
    status: Status
    if outcome.error_code:
        status, message = "failed", MESSAGES["failed"]
    else:
        status = "completed"
        message = MESSAGES["completed"] if result else MESSAGES["unclassified"]
    return ScanResponse(
        task_id=str(scan_id),
        status=status,
        message=message,
        pipeline_result=result,
        reward=outcome.reward,
        error=error(outcome.error_code),
    )


def error(code: str | None) -> ScanError | None:
    if code is None:
        return None
    return ScanError(code=code, message=ERROR_MESSAGES.get(code, MESSAGES["failed"]))


def _jsonable(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None


def row_values(outcome: Outcome) -> dict[str, Any]:
    """Columns a finished scan sets (its reward, when it deserves one, is owed until granted)."""
    obs = outcome.observation
    result = pipeline_result(outcome)
    return {
        "status": "failed" if outcome.error_code else "completed",
        "major_category": obs.major if obs else None,
        "middle_category": obs.middle if obs else None,
        "minor_category": obs.minor if obs else None,
        "classification": _jsonable(
            {
                "confidence": obs.confidence,
                "evidence": list(obs.evidence),
                "item_id": obs.item_id,
                "provider": obs.provider,
            }
            if obs
            else None
        ),
        "conditions": [str(c) for c in obs.conditions] if obs else None,
        "answer": _jsonable(result.final_answer if result else None),
        "reward": None,
        "reward_due": outcome.reward_due and outcome.error_code is None,
        "timings": outcome.timings,
        "error_code": outcome.error_code,
        "completed_at": utcnow(),
    }


def abandoned_response(scan_id: str) -> ScanResponse:
    """A scan whose job outlived every attempt (its process kept dying)."""
    return ScanResponse(
        task_id=scan_id,
        status="failed",
        message=MESSAGES["failed"],
        pipeline_result=None,
        reward=None,
        error=error("scan_abandoned"),
    )


def to_scan_response(scan: Scan) -> ScanResponse:
    """Rebuild the response of a stored scan (``GET /scan/{id}/result``)."""
    result = None
    if scan.answer and scan.major_category and scan.middle_category:
        from eco2.domains.scan.providers.matching import knowledge

        rules = knowledge().rules_for(scan.major_category, scan.middle_category)
        info = scan.classification or {}
        result = PipelineResult(
            classification_result=ClassificationResult(
                classification=Classification(
                    scan.major_category, scan.middle_category, scan.minor_category or ""
                ),
                situation_tags=list(scan.conditions or []),
                confidence=float(info.get("confidence", 0.0)),
                provider=str(info.get("provider", scan.vision_provider)),
            ),
            disposal_rules=DisposalRules(
                rules.title, rules.summary, [str(r) for r in rules.rules], list(rules.tips)
            ),
            final_answer=msgspec.convert(scan.answer, FinalAnswer),
        )
    status = scan.status
    if status == "completed":
        message = MESSAGES["completed"] if result else MESSAGES["unclassified"]
    else:
        message = MESSAGES.get(status, MESSAGES["failed"])
    return ScanResponse(
        task_id=str(scan.id),
        status=cast("Status", status),
        message=message,
        pipeline_result=result,
        reward=msgspec.convert(scan.reward, Reward) if scan.reward else None,
        error=error(scan.error_code),
    )
