#!/usr/bin/env python3
"""Rewrites the '## Test vectors' section of docs/reading-format.md from reading/tests/vectors.json."""
import json
path = "docs/reading-format.md"
doc = open(path).read()
head = doc.split("## Test vectors")[0] + "## Test vectors\n"
out = [head]
for i, v in enumerate(json.load(open("reading/tests/vectors.json")), 1):
    f = v["fields"]
    out.append(f"\n### Vector {i}: {v['name']}\n\n")
    out.append("| item | value |\n|---|---|\n")
    out.append(f"| seed (private key) | `{v['seed_hex']}` |\n")
    out.append(f"| public key | `{v['public_key_hex']}` |\n")
    out.append(f"| device id | `{v['device_id_hex']}` |\n")
    for k in ["sequence", "timestamp_ms", "interval_ms", "export_wh", "import_wh", "power_w", "status"]:
        out.append(f"| {k} | `{f[k]}` |\n")
    out.append(f"| prev_hash | `{f['prev_hash_hex']}` |\n")
    out.append(f"\ncanonical bytes (90):\n```\n{v['canonical_hex']}\n```\n")
    out.append(f"signature (64):\n```\n{v['signature_hex']}\n```\n")
    out.append(f"chain hash:\n```\n{v['chain_hash_hex']}\n```\n")
    out.append(f"JSON:\n```json\n{v['json']}\n```\n")
open(path, "w").write("".join(out))
