"""The table of SageMaker instance types: vCPU and accelerator counts as AWS publishes them."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import instance_types
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.instance_types import instance_counts

REQUIRED_FAMILIES = ("t2", "t3", "m4", "m5", "m5d", "m6i", "m7i", "c4", "c5", "c5d", "c6i", "c7i", "r5", "r6i",
                     "g4dn", "g5", "g6", "p3", "p4d", "p5", "inf1", "inf2", "trn1")
GPU_FAMILIES = ("g4dn", "g5", "g6", "p3", "p4d", "p5")
ACCELERATOR_FAMILIES = ("inf1", "inf2", "trn1")

# Spot checks against the published specifications, one or more per family.
PUBLISHED = {
    "ml.t2.medium": (2, 0),
    "ml.t3.2xlarge": (8, 0),
    "ml.m4.10xlarge": (40, 0),
    "ml.m5.large": (2, 0),
    "ml.m5.xlarge": (4, 0),
    "ml.m5.24xlarge": (96, 0),
    "ml.m5d.12xlarge": (48, 0),
    "ml.m6i.32xlarge": (128, 0),
    "ml.m7i.48xlarge": (192, 0),
    "ml.c4.8xlarge": (36, 0),
    "ml.c5.4xlarge": (16, 0),
    "ml.c5.9xlarge": (36, 0),
    "ml.c5d.18xlarge": (72, 0),
    "ml.c6i.8xlarge": (32, 0),
    "ml.c7i.large": (2, 0),
    "ml.r5.12xlarge": (48, 0),
    "ml.r6i.16xlarge": (64, 0),
    "ml.g4dn.xlarge": (4, 1),
    "ml.g4dn.12xlarge": (48, 4),
    "ml.g4dn.16xlarge": (64, 1),
    "ml.g5.2xlarge": (8, 1),
    "ml.g5.12xlarge": (48, 4),
    "ml.g5.48xlarge": (192, 8),
    "ml.g6.xlarge": (4, 1),
    "ml.g6.24xlarge": (96, 4),
    "ml.p3.2xlarge": (8, 1),
    "ml.p3.8xlarge": (32, 4),
    "ml.p3.16xlarge": (64, 8),
    "ml.p4d.24xlarge": (96, 8),
    "ml.p5.48xlarge": (192, 8),
    "ml.inf1.xlarge": (4, 1),
    "ml.inf1.6xlarge": (24, 4),
    "ml.inf1.24xlarge": (96, 16),
    "ml.inf2.xlarge": (4, 1),
    "ml.inf2.24xlarge": (96, 6),
    "ml.inf2.48xlarge": (192, 12),
    "ml.trn1.2xlarge": (8, 1),
    "ml.trn1.32xlarge": (128, 16),
}


@pytest.mark.parametrize("instance_type,expected", sorted(PUBLISHED.items()))
def test_published_counts(instance_type, expected):
    assert instance_counts(instance_type) == expected


def test_every_required_family_is_covered():
    assert set(REQUIRED_FAMILIES) <= set(instance_types.INSTANCE_TYPES)
    for family in REQUIRED_FAMILIES:
        assert instance_types.INSTANCE_TYPES[family], family


def test_table_is_well_formed():
    for family, sizes in instance_types.INSTANCE_TYPES.items():
        for size, counts in sizes.items():
            vcpus, gpus = counts
            assert isinstance(vcpus, int) and vcpus >= 2, (family, size)
            assert isinstance(gpus, int) and gpus >= 0, (family, size)
            assert "." not in family and "." not in size


def test_accelerated_families_have_accelerators_and_the_others_none():
    for family, sizes in instance_types.INSTANCE_TYPES.items():
        for size, (_vcpus, gpus) in sizes.items():
            if family in GPU_FAMILIES + ACCELERATOR_FAMILIES:
                assert gpus >= 1, (family, size)
            else:
                assert gpus == 0, (family, size)


def test_vcpus_grow_with_size_within_a_family():
    order = ["medium", "large", "xlarge"] + ["%dxlarge" % n for n in range(2, 49)]
    for family, sizes in instance_types.INSTANCE_TYPES.items():
        vcpus = [sizes[s][0] for s in order if s in sizes]
        assert len(vcpus) == len(sizes), family  # every size name is one of the known ones
        assert vcpus == sorted(vcpus), family


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "g5.xlarge", " ML.G5.XLARGE "])
def test_prefix_and_case_are_tolerated(instance_type):
    assert instance_counts(instance_type) == (4, 1)


@pytest.mark.parametrize("instance_type", [
    None, "", "ml.", "ml.m5", "ml.m5.", "ml.m5.3xlarge", "ml.x99.large", "ml.m5.xlarge.extra", "m5xlarge",
    42, ["ml.m5.xlarge"], {"type": "ml.m5.xlarge"},
])
def test_unknown_gives_none_for_both(instance_type):
    assert instance_counts(instance_type) == (None, None)


def test_cpu_only_is_zero_gpus_not_unknown():
    vcpus, gpus = instance_counts("ml.c5.xlarge")
    assert vcpus == 4 and gpus == 0 and gpus is not None


def test_instance_family_is_parsed_like_the_counts():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.instance_types import instance_family

    assert instance_family("ml.g5.12xlarge") == "g5"
    assert instance_family("ML.Inf2.XLarge") == "inf2"
    assert instance_family("trn1.2xlarge") == "trn1"
    assert instance_family("nonsense") is None
    assert instance_family(None) is None
