"""Video files in and out through ffmpeg: the writer streams, keeps the frame rate and frame count, and
leaves nothing behind when it fails; the reader streams with a stride."""
import numpy as np
import pytest

from kfusion.errors import KfusionError
from kfusion.video import VideoWriter, frame_count, prefetched, read_frames, video_info, write_video


def ramp(n, h=48, w=64):
    """``n`` frames whose grey level says their index (10 i + 20)."""
    return [np.full((h, w, 3), 10 * i + 20, np.uint8) for i in range(n)]


def test_written_video_reads_back_with_its_frame_rate_count_and_order(tmp_path):
    path = write_video(tmp_path / "a.mp4", iter(ramp(12)), fps=12.5, lossless=True)  # any iterable
    info = video_info(path)
    assert info["fps"] == pytest.approx(12.5) and info["size"] == (64, 48)
    assert frame_count(path) == 12
    got = list(read_frames(path))
    assert [i for i, _ in got] == list(range(12))
    np.testing.assert_allclose([f.mean() for _, f in got], [10 * i + 20 for i in range(12)], atol=1.5)
    assert [i for i, _ in read_frames(path, stride=5)] == [0, 5, 10]
    assert [i for i, _ in read_frames(path, frames=[3, 7, 99])] == [3, 7]


def test_a_writer_thread_writes_the_same_frames(tmp_path):
    with VideoWriter(tmp_path / "t.mp4", 25, crf=0, depth=2) as writer:
        for frame in ramp(9):
            writer.write(frame)
    assert writer.frames == 9 and frame_count(writer.path) == 9
    np.testing.assert_allclose([f.mean() for _, f in read_frames(writer.path)], [10 * i + 20 for i in range(9)],
                               atol=1.5)
    with pytest.raises(KfusionError, match="depth -1"):
        VideoWriter(tmp_path / "e.mp4", 10, depth=-1)


@pytest.mark.parametrize("depth", [0, 3])
def test_an_encoder_that_fails_is_named_and_leaves_nothing(tmp_path, depth):
    writer = VideoWriter(tmp_path / "f.mp4", 10, codec="no_such_encoder", depth=depth)
    with pytest.raises(KfusionError, match="f.mp4: the video encoder failed"):
        for frame in ramp(20, h=240, w=320):  # ffmpeg has exited: a write or the close says so
            writer.write(frame)
        writer.close()
    assert not list(tmp_path.iterdir())


def test_odd_sizes_are_padded_and_other_containers_work(tmp_path):
    path = write_video(tmp_path / "odd.avi", ramp(3, h=31, w=45), fps=5, codec="mpeg4")
    assert video_info(path)["size"] == (46, 32) and frame_count(path) == 3


@pytest.mark.parametrize("depth", [0, 2])
def test_the_file_appears_only_when_complete(tmp_path, depth):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="stop"):
        with VideoWriter(path, 10, depth=depth) as writer:
            for frame in ramp(3):
                writer.write(frame)
            assert path.read_bytes() == b"old"  # frames go to a temporary file beside it
            raise RuntimeError("stop")
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]
    with VideoWriter(path, 10) as writer:
        writer.write(ramp(1)[0])
    assert frame_count(path) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(KfusionError, match="no frames to write"):
        with VideoWriter(tmp_path / "e.mp4", 10):
            pass
    with pytest.raises(KfusionError, match="unknown video container"):
        VideoWriter(tmp_path / "e.gif", 10)
    with pytest.raises(KfusionError, match="fps 0"):
        VideoWriter(tmp_path / "e.mp4", 0)
    writer = VideoWriter(tmp_path / "s.mp4", 10)
    writer.write(ramp(1)[0])
    with pytest.raises(KfusionError, match="frame 1 is 32 x 16 px; the video is 64 x 48"):
        writer.write(np.zeros((16, 32, 3), np.uint8))
    writer.abort()
    assert not list(tmp_path.iterdir())
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(KfusionError, match="junk.mp4: not a readable video"):
        video_info(tmp_path / "junk.mp4")
    with pytest.raises(KfusionError, match="video file not found"):
        list(read_frames(tmp_path / "none.mp4"))


def test_prefetched_yields_in_order_raises_where_it_failed_and_stops_when_left(tmp_path):
    import threading

    path = write_video(tmp_path / "v.mp4", [np.full((16, 24, 3), 10 * k, np.uint8) for k in range(7)], lossless=True)
    assert [i for i, _ in prefetched(read_frames(path), depth=2)] == list(range(7))

    def failing():
        yield 1
        yield 2
        raise KfusionError("frame 3 is broken")

    got = []
    with pytest.raises(KfusionError, match="frame 3 is broken"):
        for x in prefetched(failing()):
            got.append(x)
    assert got == [1, 2]

    closed = threading.Event()

    def endless():
        try:
            k = 0
            while True:
                yield k
                k += 1
        finally:
            closed.set()

    gen = prefetched(endless(), depth=3)
    assert [next(gen) for _ in range(5)] == [0, 1, 2, 3, 4]
    gen.close()  # the reader thread stops and closes its source
    assert closed.is_set() and not any(t.name == "kfusion-prefetch" for t in threading.enumerate())
    with pytest.raises(ValueError, match="depth 0"):
        next(prefetched([1], depth=0))
