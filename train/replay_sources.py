"""Where personalisation's replay data comes from: the start model's training datasets as photo folders (their
landmarks extracted once by the hand stage and cached), or one replay pack (train.replay_pack) written on a
workstation; without --replay-data, the pack bundled with the package when it fits the start model (the bundled
model's, train.replay_pack.BUNDLED_PACK), else the folders the model records. `ReplaySource.resolve` does the cheap
checks (which folders, do they exist, does a pack's split match the start model's) before `load` does the expensive
part, so a bad option fails in seconds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl_edge.datasets import HeldOutSplit
from asl_edge.train.config import ConfigError
from asl_edge.train.landmarks import LandmarkDatasetLike, load_landmark_sets
from asl_edge.train.replay_pack import (
    BUNDLED_PACK,
    fits,
    is_replay_pack,
    read_pack_meta,
    read_replay_pack,
    write_replay_pack,
)


@dataclass(frozen=True)
class ReplaySource:
    """Photo `folders` to replay, or the datasets read from one replay `pack` (then `folders` is empty)."""

    folders: tuple[str, ...] = ()
    pack: str | None = None
    packed: tuple[tuple[str, LandmarkDatasetLike], ...] = ()
    bundled: bool = False  # the pack is the one shipped with the package, chosen because no --replay-data was given

    def describe(self) -> str:
        """One line for the console: where the replay data comes from."""
        if self.pack is None:
            return f"replay data: the photos of {', '.join(self.folders)} (landmarks from the hand stage's cache)"
        return f"replay data: {'the bundled replay pack ' if self.bundled else 'replay pack '}{self.pack}"

    @classmethod
    def resolve(cls, replay_data: Sequence[str], start: str, recorded: HeldOutSplit | None) -> ReplaySource:
        """From --replay-data (default: the folders the start model records). Raises ConfigError: a pack mixed
        with folders, folders that are not here, a pack written for another split than `recorded`."""
        if not replay_data and recorded is not None and BUNDLED_PACK.is_file() and fits(read_pack_meta(BUNDLED_PACK),
                                                                                         recorded):
            # The same arrays the folders would give (the pack's test checks it), in a second instead of minutes.
            return cls(pack=str(BUNDLED_PACK), packed=tuple(read_replay_pack(BUNDLED_PACK)[0]), bundled=True)
        replay = list(replay_data) or list(recorded.datasets if recorded is not None else ())
        packs = [path for path in replay if is_replay_pack(path)]
        if packs and len(replay) > 1:
            raise ConfigError("--replay-data takes one replay pack or folders, not both; pass just the pack")
        if not packs:
            _check_folders(replay)
            return cls(folders=tuple(replay))
        sets, split, meta = read_replay_pack(packs[0])
        names = sorted({Path(d).name for d in meta.get("datasets", [])})
        trained_on = sorted({Path(d).name for d in recorded.datasets}) if recorded is not None else names
        if not set(names) <= set(trained_on):
            # Replaying another model's data would teach the start model that data's letters and call its
            # held-out part "never trained on" for a model that may well have been.
            raise ConfigError(f"replay pack {packs[0]} holds {', '.join(names)}, but {start} was trained on "
                              f"{', '.join(trained_on)}; pass that model's own pack or its training folders with "
                              "--replay-data")
        if recorded is not None and (split.val_fraction, split.seed) != (recorded.val_fraction, recorded.seed):
            raise ConfigError(f"replay pack {packs[0]} was written for another split ({split.describe()}; "
                              f"{start} records {recorded.describe()}); write it again with "
                              f"--init-from {start} --write-replay {packs[0]}")
        return cls(pack=packs[0], packed=tuple(sets))

    def load(self, cache_dir: Path | None = None) -> list[tuple[str, LandmarkDatasetLike]]:
        """(name, landmark dataset) per replayed dataset; folders go through the hand stage's landmark cache."""
        return list(self.packed) if self.pack is not None else load_landmark_sets(list(self.folders), cache_dir)


def _check_folders(replay: Sequence[str]) -> None:
    missing = [folder for folder in replay if not Path(folder).is_dir()]
    if missing or not replay:
        raise ConfigError(f"the start model's training data {', '.join(missing) or '(none recorded)'} is not here; "
                          "pass the folders it was trained on, or a replay pack, with --replay-data")


def write_start_model_pack(start: str, recorded: HeldOutSplit | None, replay_data: Sequence[str], pack: str,
                           cache_dir: Path | None = None) -> str:
    """Pack the start model's training datasets (or --replay-data folders) and its split into `pack`; returns the
    line to print. Raises ConfigError for a pack name that is not .npz, a pack given as the source, a model that
    records no split, folders that are not here."""
    if not is_replay_pack(pack):
        raise ConfigError(f"--write-replay {pack}: name the pack FILE.npz")
    if recorded is None:
        raise ConfigError(f"{start} records no training split to keep; it cannot be packed for replay")
    replay = list(replay_data) or list(recorded.datasets)
    if any(is_replay_pack(path) for path in replay):
        raise ConfigError("--write-replay packs photo folders; give --replay-data FOLDER (or none: the model's own)")
    _check_folders(replay)
    started = time.monotonic()
    split = HeldOutSplit(tuple(replay), val_fraction=recorded.val_fraction, seed=recorded.seed)
    meta: dict[str, Any] = write_replay_pack(pack, load_landmark_sets(replay, cache_dir), split, start)
    photos = sum(source["photos"] for source in meta["sources"])
    return (f"wrote {pack}: {photos} photos of {len(replay)} dataset(s), {Path(pack).stat().st_size / 1e6:.1f} MB "
            f"in {time.monotonic() - started:.1f} s; copy it with the model and personalise with --replay-data {pack}")
