# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vCPU and accelerator counts of SageMaker instance types.

CloudWatch reports CPUUtilization summed over the vCPUs of an instance (0..100 x vCPUs) and
GPUUtilization / GPUMemoryUtilization summed over its GPUs, so a threshold only means something once it is
scaled by these counts. ``ml.<family>.<size>`` has the vCPUs and accelerators of the EC2 type
``<family>.<size>``, as AWS publishes them.

``gpus`` counts accelerator devices: NVIDIA GPUs for g*/p*, Inferentia chips for inf*, Trainium chips
for trn*. It is 0 for a CPU-only type, and None together with ``vcpus`` for a type not in the table:
"unknown" is never reported as "no GPU".

Pure data and one pure function, imported by the inventory plugin and by the role's side alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# family -> size -> (vcpus, gpus). Only sizes SageMaker offers (or EC2 has, for the newer families).
INSTANCE_TYPES = {
    # Burstable
    "t2": {"medium": (2, 0), "large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0)},
    "t3": {"medium": (2, 0), "large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0)},
    # General purpose
    "m4": {"xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "10xlarge": (40, 0), "16xlarge": (64, 0)},
    "m5": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "12xlarge": (48, 0),
           "24xlarge": (96, 0)},
    "m5d": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "12xlarge": (48, 0),
            "24xlarge": (96, 0)},
    "m6i": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (32, 0),
            "12xlarge": (48, 0), "16xlarge": (64, 0), "24xlarge": (96, 0), "32xlarge": (128, 0)},
    "m7i": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (32, 0),
            "12xlarge": (48, 0), "16xlarge": (64, 0), "24xlarge": (96, 0), "48xlarge": (192, 0)},
    # Compute optimised
    "c4": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (36, 0)},
    "c5": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "9xlarge": (36, 0),
           "18xlarge": (72, 0)},
    "c5d": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "9xlarge": (36, 0),
            "18xlarge": (72, 0)},
    "c6i": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (32, 0),
            "12xlarge": (48, 0), "16xlarge": (64, 0), "24xlarge": (96, 0), "32xlarge": (128, 0)},
    "c7i": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (32, 0),
            "12xlarge": (48, 0), "16xlarge": (64, 0), "24xlarge": (96, 0), "48xlarge": (192, 0)},
    # Memory optimised
    "r5": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "12xlarge": (48, 0),
           "24xlarge": (96, 0)},
    "r6i": {"large": (2, 0), "xlarge": (4, 0), "2xlarge": (8, 0), "4xlarge": (16, 0), "8xlarge": (32, 0),
            "12xlarge": (48, 0), "16xlarge": (64, 0), "24xlarge": (96, 0), "32xlarge": (128, 0)},
    # NVIDIA GPUs: T4 (g4dn), A10G (g5), L4 (g6), V100 (p3), A100 (p4d), H100 (p5)
    "g4dn": {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1), "12xlarge": (48, 4),
             "16xlarge": (64, 1)},
    "g5": {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1), "12xlarge": (48, 4),
           "16xlarge": (64, 1), "24xlarge": (96, 4), "48xlarge": (192, 8)},
    "g6": {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1), "12xlarge": (48, 4),
           "16xlarge": (64, 1), "24xlarge": (96, 4), "48xlarge": (192, 8)},
    "p3": {"2xlarge": (8, 1), "8xlarge": (32, 4), "16xlarge": (64, 8)},
    "p4d": {"24xlarge": (96, 8)},
    "p5": {"48xlarge": (192, 8)},
    # AWS accelerators, counted as devices: Inferentia (inf1), Inferentia2 (inf2), Trainium (trn1)
    "inf1": {"xlarge": (4, 1), "2xlarge": (8, 1), "6xlarge": (24, 4), "24xlarge": (96, 16)},
    "inf2": {"xlarge": (4, 1), "8xlarge": (32, 1), "24xlarge": (96, 6), "48xlarge": (192, 12)},
    "trn1": {"2xlarge": (8, 1), "32xlarge": (128, 16)},
}

_PREFIX = "ml."


def _family_and_size(instance_type):
    """("g5", "12xlarge") for "ml.g5.12xlarge" (the ``ml.`` prefix may be left out); (None, None) if not a type."""
    if not isinstance(instance_type, str):
        return None, None
    name = instance_type.strip().lower()
    if name.startswith(_PREFIX):
        name = name[len(_PREFIX):]
    family, dot, size = name.partition(".")
    return (family, size) if dot else (None, None)


def instance_family(instance_type):
    """The family of an instance type ("g5" for "ml.g5.12xlarge"), or None."""
    return _family_and_size(instance_type)[0]


def instance_counts(instance_type):
    """Return ``(vcpus, gpus)`` of a SageMaker instance type such as ``ml.g5.12xlarge``.

    The ``ml.`` prefix may be left out. Anything not in the table (an unknown family or size, None, a
    non-string) gives ``(None, None)``.
    """
    family, size = _family_and_size(instance_type)
    if family is None:
        return None, None
    return INSTANCE_TYPES.get(family, {}).get(size, (None, None))


# Inferentia and Trainium devices are not GPUs: SageMaker publishes no GPUUtilization or
# GPUMemoryUtilization for them, so alarms on those would never leave INSUFFICIENT_DATA.
NEURON_FAMILIES = ("inf1", "inf2", "trn1")
