"""The Kubernetes walker and the YAML scalar offset map that adapters share."""

from __future__ import annotations

from deploylint.core.document.kube import containers
from deploylint.core.document.yaml_scalars import offsets

MANIFEST = """apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: g
spec:
  leaderWorkerTemplate:
    size: 3
    leaderTemplate:
      spec:
        nodeSelector:
          nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
        containers:
        - name: lead
          image: x
          command: ["sh", "-c", "run --a 1
            --b 'two'"]
          env:
          - name: TP
            value: "4"
          resources:
            limits:
              nvidia.com/gpu: 4
    workerTemplate:
      spec:
        containers:
        - name: work
          image: x
          args: ["--x"]
          resources:
            limits:
              nvidia.com/gpu: 2
---
kind: Service
"""


def test_containers_with_group_gpus_labels_env_and_mapped_strings():
    found = containers(MANIFEST)
    lead = next(c for c in found if c.name == "lead")
    assert lead.role == "leader" and lead.group_gpus == 4 + 2 * 2
    assert "leader nvidia.com/gpu 4 + 2 workers × 2" in lead.group_gpus_origin
    assert lead.node_labels["nvidia.com/gpu.product"].value == "NVIDIA-H100-80GB-HBM3"
    assert lead.env["TP"].value == "4"
    script = lead.command[2]
    assert script.value == "run --a 1 --b 'two'"
    # every character of the folded double-quoted string maps to where it is written
    for ch, at in zip(script.value, script.chars):
        assert MANIFEST[at] == ch or (ch == " " and MANIFEST[at] == "\n")


def test_block_scalars_map_back_to_the_file():
    text = "a: |-\n  one two\n    three\n\n  four\n"
    value = "one two\n  three\n\nfour"
    where = offsets(text, text.index("|"), len(text) - 1, value)
    assert where is not None and text[where[value.index("three")]:where[value.index("three")] + 5] == "three"
    assert text[where[value.index("four")]] == "f"


def test_a_form_it_cannot_follow_gives_no_offsets_rather_than_wrong_ones():
    assert offsets('x: "a"', 3, 6, "different") is None
