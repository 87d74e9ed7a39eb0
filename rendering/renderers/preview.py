"""The built-in preview renderer: draws an instruction's layer data into a broadcast lower third.

No After Effects needed, so the whole pipeline runs (and can be looked at) on any machine. PNG,
PNG sequences (`frame_count` > 1: the panel slides in) and MOV/MP4 when ffmpeg is on PATH.
Files are written under a temporary name of their own (`.<name>.<token>.tmp…`, swept by the queue
supervisor when a killed render leaves one) and moved to the final name only after the worker
confirmed it still holds the job, so a killed render never leaves a partial file at the final
name, a re-render replaces the files of the one before, and a worker that lost its job never
replaces a newer render's file.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from rendering.models import RenderInstruction
from rendering.renderers import ProgressCallback, RenderFailed, RenderResult
from rendering.renderers.capabilities import (
    PREVIEW_MAX_FRAMES,
    PREVIEW_MAX_PIXELS,
    PREVIEW_MIN_SIZE,
)

MAX_FRAMES = PREVIEW_MAX_FRAMES
MAX_PIXELS = PREVIEW_MAX_PIXELS
SUITS = {
    "s": ("\u2660", (20, 20, 24)),
    "c": ("\u2663", (20, 20, 24)),
    "h": ("\u2665", (200, 16, 46)),
    "d": ("\u2666", (200, 16, 46)),
}
GOLD = (212, 175, 55, 255)
NAVY = (10, 22, 48)
WHITE = (255, 255, 255, 255)
MUTED = (190, 200, 220, 255)


def output_stem(instruction: RenderInstruction) -> Path:
    """Stable location of an instruction's files: <root>/<yyyymmdd>/<template>/<id>."""
    template = "".join(c if c.isalnum() or c in "-_" else "_" for c in instruction.template_name)
    day = instruction.created_at.strftime("%Y%m%d")
    return Path(settings.OUTPUT_ROOT) / day / (template or "template") / f"{instruction.pk:07d}"


def temp_path(target: Path, *, keep_suffix: bool = False) -> Path:
    """A name of this render's own beside `target` (two workers never share one); ffmpeg picks
    its muxer by the suffix, so a video keeps it."""
    token = uuid.uuid4().hex[:12]
    suffix = f".tmp{target.suffix}" if keep_suffix else ".tmp"
    return target.with_name(f".{target.name}.{token}{suffix}")


def commit_output(tmp: Path, target: Path, progress: ProgressCallback) -> None:
    """Move a finished file or folder to its final name, only while this worker still holds
    the job: `progress(commit=True)` confirms the lease (LeaseLost otherwise) just before. A
    folder (PNG sequence) replaces the one an earlier attempt left."""
    progress(commit=True)
    if not tmp.is_dir():
        os.replace(tmp, target)
        return
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.old.tmp")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@functools.lru_cache(maxsize=32)
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf",) if bold else ("DejaVuSans.ttf",):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _resolution(output_settings: dict[str, Any]) -> tuple[int, int]:
    raw = str(output_settings.get("resolution") or "1920x1080")
    try:
        width, height = (int(part) for part in raw.lower().split("x"))
    except ValueError:
        raise RenderFailed(f"resolution {raw!r} is not WIDTHxHEIGHT", retryable=False) from None
    low_w, low_h = PREVIEW_MIN_SIZE
    if width < low_w or height < low_h or width * height > MAX_PIXELS:
        raise RenderFailed(f"resolution {raw} is outside 320x180 … 3840x2160", retryable=False)
    return width, height


def _frame_count(output_settings: dict[str, Any]) -> int:
    try:
        frames = int(output_settings.get("frame_count") or 1)
    except (TypeError, ValueError):
        raise RenderFailed("frame_count must be a whole number", retryable=False) from None
    if not 1 <= frames <= MAX_FRAMES:
        raise RenderFailed(f"frame_count must be 1 … {MAX_FRAMES}", retryable=False)
    return frames


class LowerThird:
    """The graphic: a dark panel with a gold edge, the headline (hand rank or template), the
    players, the cards and the pot. `draw(t)` draws it `t` (0…1) of the way through its slide-in.
    """

    def __init__(self, instruction: RenderInstruction, size: tuple[int, int]):
        self.data = instruction.layer_data or {}
        self.template = instruction.template_name
        self.width, self.height = size
        self.scale = self.height / 1080

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def draw(self, t: float = 1.0) -> Image.Image:
        image = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        eased = 1 - (1 - min(max(t, 0.0), 1.0)) ** 3
        panel_w = round(self.width * 0.78)
        left = round(self.width * 0.06 - (1 - eased) * (panel_w + self.width * 0.06))
        top, panel_h = round(self.height * 0.70), self.px(230)
        panel = Image.new("RGBA", (panel_w, panel_h))
        pd = ImageDraw.Draw(panel)
        for y in range(panel_h):  # vertical gradient: readable over any picture
            shade = 1 - y / panel_h * 0.35
            pd.line([(0, y), (panel_w, y)], fill=(*(round(c * shade) for c in NAVY), 235))
        pd.rectangle([0, 0, self.px(12), panel_h], fill=GOLD)
        self._text(pd)
        self._cards(pd, panel_w)
        image.alpha_composite(panel, (max(left, -panel_w), top))
        self._strap(ImageDraw.Draw(image), left, top, eased)
        return image

    def _headline(self) -> str:
        label = (
            self.data.get("hand_rank_label")
            or self.data.get("hand_rank")
            or self.data.get("title")
            or self.template.replace("_", " ")
        )
        return str(label).replace("_", " ").upper()

    def _text(self, pd: ImageDraw.ImageDraw) -> None:
        x = self.px(40)
        pd.text((x, self.px(22)), self._headline(), font=_font(self.px(64), bold=True), fill=GOLD)
        winner = self.data.get("winner") or self.data.get("player_name") or ""
        players = [p for p in self.data.get("players") or [] if isinstance(p, dict)]
        names = "  vs  ".join(str(p.get("name", "")) for p in players[:4] if p.get("name"))
        line = f"{winner} wins" if winner else ""
        if names:
            line = f"{line}  \u2022  {names}" if line else names
        if not line:  # not a hand: show the template's own fields
            line = "   ".join(
                f"{k}: {v}" for k, v in self.data.items() if isinstance(v, str | int | float)
            )[:90]
        pd.text((x, self.px(108)), line, font=_font(self.px(40), bold=True), fill=WHITE)
        pot = self.data.get("pot_size")
        if pot is not None:
            try:
                pot_text = f"POT  {int(pot):,}"
            except (TypeError, ValueError):
                pot_text = f"POT  {pot}"
            pd.text((x, self.px(166)), pot_text, font=_font(self.px(36)), fill=MUTED)

    def _cards(self, pd: ImageDraw.ImageDraw, panel_w: int) -> None:
        cards = [str(c) for c in self.data.get("community_cards") or []][:5]
        if not cards:
            players = [p for p in self.data.get("players") or [] if isinstance(p, dict)]
            winner = next((p for p in players if p.get("name") == self.data.get("winner")), None)
            cards = [str(c) for c in ((winner or {}).get("hole_cards") or [])][:5]
        w, h, gap = self.px(96), self.px(134), self.px(14)
        x = panel_w - self.px(40) - len(cards) * (w + gap) + gap
        for card in cards:
            rank, suit = card[:-1].upper(), card[-1:].lower()
            symbol, colour = SUITS.get(suit, (suit, (20, 20, 24)))
            y = self.px(48)
            pd.rounded_rectangle(
                [x, y, x + w, y + h],
                radius=self.px(10),
                fill=(250, 250, 246),
                outline=GOLD,
                width=self.px(3),
            )
            label = ("10" if rank == "T" else rank) + symbol
            font = self.card_font(pd, label, card_width=w)
            box = pd.textbbox((0, 0), label, font=font)
            pd.text(
                (x + (w - (box[2] - box[0])) / 2, y + (h - (box[3] - box[1])) / 2 - box[1]),
                label,
                font=font,
                fill=colour,
            )
            x += w + gap

    def card_font(
        self, pd: ImageDraw.ImageDraw, label: str, *, card_width: int
    ) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        """The largest label font (up to 46 px at 1080p) that leaves a margin on the card: a
        "10♥" must not run over the card's edge."""
        size, floor = self.px(46), max(self.px(20), 8)
        while True:
            font = _font(size, bold=True)
            box = pd.textbbox((0, 0), label, font=font)
            if box[2] - box[0] <= card_width - self.px(14) or size <= floor:
                return font
            size -= max(self.px(2), 1)

    def _strap(self, draw: ImageDraw.ImageDraw, left: int, top: int, eased: float) -> None:
        bits = [str(self.data.get(k)) for k in ("tournament", "table_id") if self.data.get(k)]
        if self.data.get("hand_number") is not None:
            bits.append(f"HAND #{self.data['hand_number']}")
        text = "  |  ".join(bits) or "WSOP"
        font = _font(self.px(28), bold=True)
        box = draw.textbbox((0, 0), text, font=font)
        pad = self.px(14)
        y = top - (box[3] - box[1]) - 3 * pad
        draw.rectangle(
            [left, y, left + box[2] + 2 * pad, top - pad], fill=(*GOLD[:3], round(255 * eased))
        )
        draw.text((left + pad, y + pad - box[1]), text, font=font, fill=(*NAVY, 255))


class PreviewRenderer:
    name = "preview"

    def render(self, instruction: RenderInstruction, *, progress: ProgressCallback) -> RenderResult:
        settings_ = instruction.output_settings or {}
        fmt = str(settings_.get("format") or "PNG").upper()
        if fmt not in ("PNG", "MOV", "MP4"):
            raise RenderFailed(f"format {fmt!r} is not PNG, MOV or MP4", retryable=False)
        size, frames = _resolution(settings_), _frame_count(settings_)
        graphic = LowerThird(instruction, size)
        stem = output_stem(instruction)
        stem.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "PNG" and frames == 1:
            return self._single(graphic, stem.with_suffix(".png"), progress)
        if fmt == "PNG":
            return self._sequence(graphic, stem, frames, progress)
        return self._video(
            graphic, stem.with_suffix(f".{fmt.lower()}"), frames, settings_, progress
        )

    def _single(
        self, graphic: LowerThird, target: Path, progress: ProgressCallback
    ) -> RenderResult:
        tmp = temp_path(target)
        try:
            graphic.draw(1.0).save(tmp, format="PNG", optimize=False)
            commit_output(tmp, target, progress)
        finally:
            tmp.unlink(missing_ok=True)
        return RenderResult(output_path=str(target), file_size=target.stat().st_size)

    def _frames(
        self, graphic: LowerThird, folder: Path, frames: int, progress: ProgressCallback
    ) -> None:
        for index in range(frames):
            t = (index + 1) / max(frames * 0.6, 1)
            graphic.draw(t).save(folder / f"frame_{index + 1:05d}.png", format="PNG")
            if index % 10 == 9:
                progress(percent=round(90 * (index + 1) / frames))

    def _sequence(
        self, graphic: LowerThird, stem: Path, frames: int, progress: ProgressCallback
    ) -> RenderResult:
        tmp = Path(tempfile.mkdtemp(prefix=f".{stem.name}.", suffix=".tmp", dir=stem.parent))
        try:
            self._frames(graphic, tmp, frames, progress)
            commit_output(tmp, stem, progress)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        size = sum(f.stat().st_size for f in stem.iterdir())
        return RenderResult(output_path=str(stem), file_size=size, frame_count=frames)

    def _video(
        self,
        graphic: LowerThird,
        target: Path,
        frames: int,
        settings_: dict[str, Any],
        progress: ProgressCallback,
    ) -> RenderResult:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RenderFailed(
                f"{target.suffix[1:].upper()} output needs ffmpeg on this worker's PATH and "
                "there is none; install ffmpeg or ask for PNG / a PNG sequence",
                retryable=False,
            )
        fps = str(settings_.get("fps") or 30)
        codec = (
            ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"]
            if target.suffix == ".mov"
            else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
        )
        with tempfile.TemporaryDirectory(
            prefix=f".{target.stem}.frames.", suffix=".tmp", dir=target.parent
        ) as folder:
            self._frames(graphic, Path(folder), frames, progress)
            tmp = temp_path(target, keep_suffix=True)
            command = [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                "-framerate",
                fps,
                "-i",
                str(Path(folder) / "frame_%05d.png"),
                *codec,
                str(tmp),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            try:
                if done.returncode != 0:
                    raise RenderFailed(f"ffmpeg failed: {done.stderr.strip()[-500:]}")
                commit_output(tmp, target, progress)
            finally:
                tmp.unlink(missing_ok=True)
        return RenderResult(
            output_path=str(target), file_size=target.stat().st_size, frame_count=frames
        )
