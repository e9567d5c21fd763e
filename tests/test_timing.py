import time

import numpy as np

from kfusion import timing


def test_interleaved_medians_time_each_function_after_its_warm_up():
    calls = {"fast": 0, "slow": 0}

    def fast(x):
        calls["fast"] += 1
        return x

    def slow(x):
        calls["slow"] += 1
        time.sleep(0.01)
        return [x, x]

    t_fast, t_slow = timing.interleaved_medians([fast, slow], [1, 2], repeats=3, warmup=2)
    assert calls == {"fast": 5, "slow": 5}
    assert 0.0 <= t_fast < 0.01 <= t_slow


def test_latency_throughput_feeds_uint8_crops_of_the_size_asked():
    shapes = []

    def run(images):
        assert images.dtype == np.uint8
        shapes.append(images.shape)
        return {"pose_3d": np.zeros((len(images), 17, 3))}

    ms, images_per_s = timing.latency_throughput(run, 8, repeats=4, batch=6)
    assert set(shapes) == {(1, 8, 8, 3), (6, 8, 8, 3)}
    assert ms > 0 and images_per_s > 0
    assert timing.cpu_cores() >= 1
