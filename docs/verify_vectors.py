#!/usr/bin/env python3
"""Verifies reading/tests/vectors.json with nothing but the format document's rules and an
independent Ed25519 implementation (Python `cryptography`). Not part of the test run; it shows
that docs/reading-format.md is enough to check the vectors without sunmesh's code.

    python3 docs/verify_vectors.py reading/tests/vectors.json
"""
import base64, hashlib, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = b"sunmesh.reading.v1\x00"
STATUS = {0: "ok", 1: "standby", 2: "fault", 3: "off"}

def main(path):
    for v in json.load(open(path)):
        seed = bytes.fromhex(v["seed_hex"])
        pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        assert pub.hex() == v["public_key_hex"], "public key from seed"
        canonical = bytes.fromhex(v["canonical_hex"])
        assert len(canonical) == 90 and canonical[0] == 1
        device, seq, ts, interval, exp, imp, power, status = struct.unpack(">16sQqIQQiB", canonical[1:58])
        prev = canonical[58:90]
        assert device == hashlib.sha256(pub).digest()[:16], "device id = SHA-256(pubkey)[:16]"
        message = PREFIX + canonical
        assert message.hex() == v["message_hex"]
        Ed25519PublicKey.from_public_bytes(pub).verify(bytes.fromhex(v["signature_hex"]), message)
        assert hashlib.sha256(message).hexdigest() == v["chain_hash_hex"]
        j = json.loads(v["json"])
        assert (j["version"], j["device_id"], j["sequence"], j["timestamp_ms"], j["interval_ms"],
                j["export_wh"], j["import_wh"], j["power_w"], j["status"], j["prev_hash"]) == \
               (1, device.hex(), seq, ts, interval, exp, imp, power, STATUS[status], prev.hex())
        assert base64.b64decode(j["signature"]).hex() == v["signature_hex"]
        print("ok:", v["name"])

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reading/tests/vectors.json")
