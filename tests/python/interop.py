"""Python persidict's side of the interop test (driven by tests/python_interop.rs).

Usage (the S3 endpoint and credentials come from AWS_ENDPOINT_URL and AWS_*):

    interop.py version
    interop.py write BUCKET ROOT_PREFIX   # stdin: {"key/path": value, ...}; writes them
    interop.py read BUCKET ROOT_PREFIX    # stdout: {"key/path": value, ...} of every entry
    interop.py drop-bucket BUCKET         # removes every object, then the bucket

Dictionaries are BasicS3Dict with serialization_format "json" (values through jsonpickle,
which writes plain JSON for JSON-native values).
"""

import json
import sys

import boto3
import persidict


def open_dict(bucket, root_prefix):
    return persidict.BasicS3Dict(
        bucket_name=bucket, root_prefix=root_prefix, serialization_format="json"
    )


def main(argv):
    command = argv[1]
    if command == "version":
        print(persidict.__version__)
    elif command == "write":
        d = open_dict(argv[2], argv[3])
        for path, value in json.load(sys.stdin).items():
            d[tuple(path.split("/"))] = value
    elif command == "read":
        d = open_dict(argv[2], argv[3])
        out = {"/".join(k.strings): v for k, v in d.items()}
        json.dump(out, sys.stdout, allow_nan=False)
    elif command == "drop-bucket":
        bucket = boto3.resource("s3").Bucket(argv[2])
        bucket.objects.all().delete()
        bucket.delete()
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
