from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from rendering.models import InstructionStatus, RenderOutput
from rendering.services.worker import queue_work
from tests.rendering.helpers import make_instruction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _preview(settings):
    settings.RENDER_BACKEND = "preview"


def test_it_renders_a_png_lower_third_and_records_its_real_size(settings):
    row = make_instruction()
    assert queue_work(budget_seconds=5, worker_id="w1") == 1
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED
    output = RenderOutput.objects.get(instruction=row)
    path = Path(output.output_path)
    assert path.is_file() and path.suffix == ".png"
    assert path.is_relative_to(settings.OUTPUT_ROOT)
    assert output.file_size == path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.size == (1280, 720) and image.mode == "RGBA"
        # Something was drawn in the lower third, and the top of the frame stays transparent.
        assert image.getpixel((640, 10))[3] == 0
        assert image.crop((0, 500, 1280, 680)).getbbox() is not None


def test_it_renders_a_png_sequence_with_frame_count():
    row = make_instruction(
        output_settings={"format": "PNG", "resolution": "640x360", "frame_count": 12}
    )
    queue_work(budget_seconds=5, worker_id="w1")
    output = RenderOutput.objects.get(instruction=row)
    folder = Path(output.output_path)
    frames = sorted(folder.iterdir())
    assert output.frame_count == 12 and len(frames) == 12
    assert frames[0].name == "frame_00001.png"
    assert output.file_size == sum(f.stat().st_size for f in frames)
    # The panel slides in: the first frame shows less of it than the last.
    with Image.open(frames[0]) as first, Image.open(frames[-1]) as last:
        assert first.getbbox() != last.getbbox()


def test_it_fails_video_output_clearly_without_ffmpeg(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a worker with no ffmpeg installed
    row = make_instruction(output_settings={"format": "MP4", "frame_count": 3})
    queue_work(budget_seconds=5, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert "needs ffmpeg" in row.error_message
    assert row.next_attempt_at is None  # retrying cannot help
    assert not RenderOutput.objects.exists()


def test_it_fails_bad_output_settings_with_a_field_message():
    row = make_instruction(output_settings={"format": "PNG", "resolution": "huge"})
    queue_work(budget_seconds=5, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert "resolution 'huge'" in row.error_message


def test_it_draws_templates_that_are_not_hands():
    row = make_instruction(
        template_name="elimination", layer_data={"player_name": "Carol", "place": "7th"}
    )
    queue_work(budget_seconds=5, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED


def test_it_drains_in_priority_order_in_one_wakeup():
    low = make_instruction(priority=9)
    high = make_instruction(priority=1)
    assert queue_work(budget_seconds=30, worker_id="w1") == 2
    low.refresh_from_db()
    high.refresh_from_db()
    assert high.started_at < low.started_at


@pytest.mark.parametrize("resolution", [(1920, 1080), (1280, 720), (640, 360)])
def test_every_card_label_fits_on_its_card(resolution):
    from PIL import ImageDraw

    from rendering.renderers.preview import SUITS, LowerThird

    graphic = LowerThird(make_instruction(), resolution)
    pd = ImageDraw.Draw(Image.new("RGBA", resolution))
    card_width = graphic.px(96)
    for rank in "23456789TJQKA":
        for symbol, _ in SUITS.values():
            label = ("10" if rank == "T" else rank) + symbol
            box = pd.textbbox(
                (0, 0), label, font=graphic.card_font(pd, label, card_width=card_width)
            )
            assert box[2] - box[0] <= card_width - graphic.px(14), label
