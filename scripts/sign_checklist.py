"""Sign a patrol checklist for the field client (IT administrators, 信息管理员).

  python scripts/sign_checklist.py keygen --out it-checklist-key.pem
      Make an Ed25519 key pair. Prints the public key to pin in
      fieldclient/fieldwork/checklist.py (PINNED_PUBLIC_KEYS). Keep the .pem offline; with
      --encrypt the file is protected by a passphrase asked for at the terminal.
  python scripts/sign_checklist.py sign CHECKLIST.json --key it-checklist-key.pem
      Check the definition's structure, then write CHECKLIST.json.sig (base64).
  python scripts/sign_checklist.py verify CHECKLIST.json [--public-key BASE64]
      Verify against the pinned keys (or the one given).

The signature covers a context label and the file's exact bytes
(fieldclient.fieldwork.checklist.signed_message), so do not re-save the file after signing.
Raise "version" for every new checklist: devices refuse a version not newer than
the one they have.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from fieldclient.errors import FieldClientError  # noqa: E402
from fieldclient.fieldwork import checklist  # noqa: E402


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def keygen(out: Path, encrypt: bool) -> str:
    key = Ed25519PrivateKey.generate()
    if encrypt:
        passphrase = getpass.getpass("passphrase: ").encode()
        if passphrase != getpass.getpass("again: ").encode() or not passphrase:
            raise SystemExit("passphrases differ or are empty")
        algorithm: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
        )
    else:
        algorithm = serialization.NoEncryption()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm
    )
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return public_key_b64(key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    pem = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:  # encrypted
        passphrase = getpass.getpass(f"passphrase for {path}: ").encode()
        key = serialization.load_pem_private_key(pem, password=passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    return key


def sign(definition_path: Path, key_path: Path, out: Path | None) -> Path:
    definition = definition_path.read_bytes()
    parsed = checklist.parse_definition(definition)  # never sign a broken definition
    key = load_private_key(key_path)
    signature = key.sign(checklist.signed_message(definition))
    target = out or checklist.signature_path(definition_path)
    target.write_text(base64.b64encode(signature).decode("ascii") + "\n", encoding="ascii")
    checklist.verify_signature(definition, target.read_text("ascii"), (public_key_b64(key),))
    print(f"signed version {parsed.version} ({len(parsed.items)} items) -> {target}")
    print(f"public key: {public_key_b64(key)}")
    if public_key_b64(key) not in checklist.PINNED_PUBLIC_KEYS:
        print("warning: this key is not pinned in fieldclient/fieldwork/checklist.py",
              file=sys.stderr)
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_keygen = sub.add_parser("keygen", help="make a signing key pair")
    p_keygen.add_argument("--out", type=Path, required=True)
    p_keygen.add_argument("--encrypt", action="store_true", help="protect with a passphrase")
    p_sign = sub.add_parser("sign", help="sign a checklist definition")
    p_sign.add_argument("definition", type=Path)
    p_sign.add_argument("--key", type=Path, required=True, help="private key (PEM)")
    p_sign.add_argument("--out", type=Path, help="signature file (default: DEFINITION.sig)")
    p_verify = sub.add_parser("verify", help="verify a signed checklist")
    p_verify.add_argument("definition", type=Path)
    p_verify.add_argument("--sig", type=Path)
    p_verify.add_argument("--public-key", help="base64 raw key (default: the pinned keys)")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            print(keygen(args.out, args.encrypt))
        elif args.command == "sign":
            sign(args.definition, args.key, args.out)
        else:
            keys = (args.public_key,) if args.public_key else None
            loaded = checklist.load_checklist_file(args.definition, args.sig, keys)
            print(f"ok: version {loaded.version}, {len(loaded.items)} items")
    except FieldClientError as exc:
        print(exc.message("en"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
