"""What every machine check reads and returns: the shared facts (probed lazily), the job and source asked
about, and a check's finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asl_edge.doctor import system_info

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str
    fix: str
    required: bool


class Facts:
    """system_info sections, each probed once and only when a check reads it."""

    def __init__(self, known: dict[str, Any] | None = None) -> None:
        # `known` sections (say, a record collected earlier) are used as given instead of probed.
        self._sections: dict[str, Any] = dict(known or {})

    def __getitem__(self, section: str) -> Any:
        if section not in self._sections:
            self._sections[section] = system_info.SECTIONS[section]()
        return self._sections[section]

    def as_dict(self) -> dict[str, Any]:
        """Every section, probing those no check has read yet: the full record of this machine."""
        return {section: self[section] for section in system_info.SECTIONS}


@dataclass(frozen=True)
class Context:
    job: str
    source: str | None
    facts: Facts


def source_kind(source: str | None) -> str | None:
    """What `run --source` would read (runtime.live.sources.source_kind: camera, csi, stream or file); None when
    no source is given or it names no kind (`run` itself reports an unknown scheme)."""
    if source is None:
        return None
    from asl_edge.errors import SourceError
    from asl_edge.runtime.live.sources import source_kind as kind_of  # imports OpenCV: only when asked

    try:
        return kind_of(source)
    except SourceError:
        return None


def camera_device(source: str) -> str:
    if source.isdigit():
        return f"/dev/video{source}"
    return source.removeprefix("v4l2://")
