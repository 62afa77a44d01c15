# Copyright 2026 The vision_banana_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Tests for vision_banana_ros.bench: statistics, sizes, replay, and a tiny run (never times)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from vision_banana_ros import bench
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.bench import (
    BenchConfig,
    depth_anything_size,
    parse_size,
    Ratio,
    ReplayBackend,
    run_bench,
    summarise,
)
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig

TASKS = TasksConfig(semantic_classes=('floor', 'wall', 'table'))


@pytest.fixture(scope='module')
def oracle() -> OracleBackend:
    """Render one small held-out room."""
    return OracleBackend.from_seeds([5], 80, 64, 'room')


@pytest.fixture(scope='module')
def frame(oracle: OracleBackend) -> CameraFrame:
    """Return the room's camera frame with intrinsics."""
    return CameraFrame(oracle.frames[0].rgb.numpy(), oracle.intrinsics[0])


@pytest.fixture
def replay_pipeline(oracle: OracleBackend, frame: CameraFrame) -> Pipeline:
    """Build a pipeline whose generator replays the oracle's answer for the frame, at 32x40."""
    config = PipelineConfig(tasks=TASKS, model_height=32, model_width=40)
    truth = Pipeline(config, backend=oracle)
    drawn = oracle.generate(
        truth.letterbox((64, 80)).to_model(torch.from_numpy(frame.rgb)[None]),
        [p.text for p in truth.prompts],
    )
    return Pipeline(config, backend=ReplayBackend([drawn]))


def test_summarise_takes_percentiles_and_rate_of_the_calls() -> None:
    row = summarise('x', [10.0, 20.0, 30.0, 40.0], 'four calls', '4x4')
    assert row.p50_ms == 25.0
    assert row.p99_ms == pytest.approx(39.7)  # numpy's linear interpolation
    assert row.mean_ms == 25.0 and row.fps == 40.0 and row.repeats == 4
    with pytest.raises(ValueError, match='no timed calls'):
        summarise('x', [])


def test_time_calls_warms_up_then_times_each_call() -> None:
    calls: list[int] = []
    samples = bench.time_calls(lambda: calls.append(1), 3, 2, torch.device('cpu'))
    assert len(calls) == 5 and len(samples) == 3 and all(s >= 0 for s in samples)


@pytest.mark.parametrize(
    ('text', 'size'), [('640x480', (480, 640)), (' 80X64 ', (64, 80)), ('1x1', (1, 1))]
)
def test_sizes_are_read_width_first(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text, '--camera') == size


@pytest.mark.parametrize('text', ['640', '640x', 'x480', '0x480', '-1x4', '6.5x4', ''])
def test_bad_sizes_name_the_flag(text: str) -> None:
    with pytest.raises(ValueError, match='--camera takes WIDTHxHEIGHT'):
        parse_size(text, '--camera')


def test_depth_anything_keeps_the_camera_aspect_on_14_pixel_patches() -> None:
    assert depth_anything_size((480, 640)) == (518, 686)  # the 518x686
    assert depth_anything_size((640, 480)) == (686, 518)
    assert depth_anything_size((720, 1280)) == (518, 924)
    assert all(side % 14 == 0 for side in depth_anything_size((64, 80)))


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        ({'repeats': 0}, 'repeats must be an integer >= 1'),
        ({'peer_repeats': 0}, 'peer_repeats must be'),
        ({'warmup': -1}, 'warmup must be an integer >= 0'),
        ({'peers': ('sd3',)}, 'unknown peers'),
        ({'peer_size': (100, 75)}, 'multiples of 8'),
    ],
)
def test_bench_config_rejects_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BenchConfig(**changes)  # type: ignore[arg-type]


def test_ratio_is_met_only_at_or_above_its_target() -> None:
    assert Ratio('a', 'a', 10.0, 10.0).met is True
    assert Ratio('a', 'a', 9.9, 10.0).met is False
    assert Ratio('a', 'a', 3.0).met is None
    assert Ratio('a', 'a', 3.0).to_dict()['met'] is None


def test_replay_hands_out_its_outputs_in_turn() -> None:
    first, second = (
        torch.zeros(2, 4, 4, 3, dtype=torch.uint8),
        torch.ones(2, 4, 4, 3, dtype=torch.uint8),
    )
    backend = ReplayBackend([first, second], resolution=(4, 4))
    image = torch.zeros(1, 4, 4, 3, dtype=torch.uint8)
    drawn = [backend.generate(image, ['a', 'b']) for _ in range(3)]
    assert [int(d.max()) for d in drawn] == [0, 1, 0]
    assert backend.resolution == (4, 4) and backend.calls == 3
    with pytest.raises(ValueError, match='at least one'):
        ReplayBackend([])


def test_run_bench_reports_every_stage_with_the_machine(
    replay_pipeline: Pipeline, frame: CameraFrame
) -> None:
    pytest.importorskip('rosbags')
    report = run_bench(replay_pipeline, frame, BenchConfig(repeats=2, warmup=1, peers=()))
    names = [row.name for row in report.rows]
    for stage in ('generate', 'decode', 'resize', 'smooth', 'cloud', 'total', 'messages', 'cdr'):
        assert f'ours.{stage}' in names
    assert names.index('ours.generate') < names.index('ours.decode') < names.index('ours.frame')
    assert 'ours.decode_and_pack' in names
    assert all(row.repeats == 2 and row.p50_ms >= 0 for row in report.rows)
    assert report.ratios == [] and report.notes == []
    assert report.memory['ours.peak_rss_mib'] > 0
    document = json.loads(json.dumps(report.to_json()))
    assert set(document) == {'metadata', 'results', 'ratios'}
    assert document['metadata']['setup']['tasks'] == ['depth', 'normals', 'semantic']
    assert document['metadata']['machine']['torch_threads'] == torch.get_num_threads()
    assert 'machine: ' in report.table() and 'ours.frame' in report.table()


def test_missing_peer_libraries_skip_the_peers_and_say_so(
    replay_pipeline: Pipeline, frame: CameraFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, 'diffusers', None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, 'transformers', None)
    config = BenchConfig(repeats=1, warmup=0, messages=False)
    report = run_bench(replay_pipeline, frame, config)
    assert not [row for row in report.rows if not row.name.startswith('ours.')]
    assert report.ratios == []
    assert report.notes == [
        f'sd2 skipped: diffusers is not installed ({bench.BENCH_EXTRA})',
        f'depth-anything-v2-small skipped: transformers is not installed ({bench.BENCH_EXTRA})',
    ]
    assert 'note: sd2 skipped' in report.table()


def test_peers_time_on_tiny_configs_and_give_ratios(
    replay_pipeline: Pipeline, frame: CameraFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip('diffusers')
    tiny_unet = {
        **bench.SD2_UNET_CONFIG,
        'down_block_types': ('CrossAttnDownBlock2D', 'DownBlock2D'),
        'up_block_types': ('UpBlock2D', 'CrossAttnUpBlock2D'),
        'block_out_channels': (32, 64),
        'attention_head_dim': (2, 4),
        'cross_attention_dim': 16,
        'layers_per_block': 1,
    }
    tiny_vae = {**bench.SD2_VAE_CONFIG, 'block_out_channels': (32, 32, 32, 32)}
    tiny_depth = {
        **bench.DEPTH_ANYTHING_SMALL,
        'backbone': {**bench.DEPTH_ANYTHING_SMALL['backbone'], 'hidden_size': 24,
                     'num_hidden_layers': 4, 'num_attention_heads': 2,
                     'out_features': ['stage1', 'stage2', 'stage3', 'stage4']},
        'reassemble_hidden_size': 24,
        'neck_hidden_sizes': [8, 8, 16, 24],
        'fusion_hidden_size': 8,
    }  # fmt: skip
    monkeypatch.setattr(bench, 'SD2_UNET_CONFIG', tiny_unet)
    monkeypatch.setattr(bench, 'SD2_VAE_CONFIG', tiny_vae)
    monkeypatch.setattr(bench, 'SD2_TEXT_DIM', 16)
    monkeypatch.setattr(bench, 'DEPTH_ANYTHING_SIDE', 28)
    monkeypatch.setattr(bench, 'DEPTH_ANYTHING_SMALL', tiny_depth)
    config = BenchConfig(repeats=1, warmup=0, peer_repeats=1, peer_warmup=0, messages=False)
    report = run_bench(replay_pipeline, frame, config)
    rows = {row.name: row for row in report.rows}
    assert {'sd2.vae_encode', 'sd2.unet_step', 'sd2.vae_decode', 'sd2.one_step'} <= set(rows)
    assert rows['sd2.unet_step'].size == '32x40'  # our model resolution by default
    assert rows['depth-anything-v2-small'].size == '28x42'  # short side 28; 35 rounds up to 42
    ratios = {ratio.name: ratio for ratio in report.ratios}
    assert ratios['sd2.unet_step / ours.generate'].target == 10.0  # same size: 32x40
    assert ratios['sd2.unet_step / ours.generate'].what.endswith('(32x40 vs 32x40)')
    assert ratios['depth-anything-v2-small / ours.generate'].target == 1.0
    assert np.isfinite([ratio.value for ratio in report.ratios]).all()
    assert {'sd2.peak_rss_mib', 'depth-anything-v2-small.peak_rss_mib'} <= set(report.memory)


def test_the_unet_target_holds_only_at_the_same_resolution() -> None:
    def report(peer_size: str) -> bench.BenchReport:
        rows = [
            summarise('ours.generate', [10.0], size='128x160'),
            summarise('sd2.unet_step', [200.0], size=peer_size),
        ]
        setup = {'prompts': ['a', 'b', 'c']}
        return bench.BenchReport(bench.describe_machine(torch.device('cpu')), setup, rows)

    same, other = bench._ratios(report('128x160')), bench._ratios(report('480x640'))
    assert same[0].value == 20.0 and same[0].target == 10.0 and same[0].met
    assert other[0].value == 20.0 and other[0].target is None
    assert other[0].what.endswith('(480x640 vs 128x160)')
