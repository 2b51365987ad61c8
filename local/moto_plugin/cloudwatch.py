"""CloudWatch over Smithy RPC v2 CBOR, which moto 5.2.5 does not speak.

The AWS SDK for Rust (aws-sdk-cloudwatch 1.140) calls CloudWatch with the `rpc-v2-cbor`
protocol: `POST /service/GraniteServiceVersion20100801/operation/<Operation>` with a
CBOR body. moto only routes CloudWatch's query and JSON protocols, so such a request gets
an HTML 404. This module adds that route: it decodes the CBOR input, hands it to moto's
own CloudWatch handler as the equivalent JSON-protocol request, and encodes the answer
back to CBOR, timestamps tagged as the protocol requires. moto's CloudFormation already
handles AWS::CloudWatch::Dashboard; nothing else is changed.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

TARGET_PREFIX = "GraniteServiceVersion20100801"
PATH = "{0}/service/" + TARGET_PREFIX + "/operation/(?P<operation>[A-Za-z]+)$"


# --- a minimal CBOR codec (RFC 8949): what the SDK sends and reads ----------------------


class Tagged:
    def __init__(self, tag: int, value: Any):
        self.tag = tag
        self.value = value


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if value < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, value)
    raise ValueError(f"integer too large for CBOR: {value}")


def encode(value: Any) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, Tagged):
        return _head(6, value.tag) + encode(value.value)
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def decode(data: bytes) -> Any:
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return value


_BREAK = object()


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    initial = data[pos]
    pos += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 25:
            return _half(data[pos : pos + 2]), pos + 2
        if info == 26:
            return struct.unpack(">f", data[pos : pos + 4])[0], pos + 4
        if info == 27:
            return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
        if info == 31:
            return _BREAK, pos
        raise ValueError(f"unsupported CBOR simple value {info}")
    if info == 31:  # indefinite length
        items = []
        while True:
            item, pos = _decode(data, pos)
            if item is _BREAK:
                break
            items.append(item)
        if major in (2, 3):
            return (b"" if major == 2 else "").join(items), pos
        if major == 4:
            return items, pos
        if major == 5:
            return dict(zip(items[::2], items[1::2])), pos
        raise ValueError(f"indefinite length for major type {major}")
    if info < 24:
        argument = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        argument = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    if major == 0:
        return argument, pos
    if major == 1:
        return -1 - argument, pos
    if major == 2:
        return data[pos : pos + argument], pos + argument
    if major == 3:
        return data[pos : pos + argument].decode("utf-8"), pos + argument
    if major == 4:
        items = []
        for _ in range(argument):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        result = {}
        for _ in range(argument):
            key, pos = _decode(data, pos)
            result[key], pos = _decode(data, pos)
        return result, pos
    # Major 6: a tag. Epoch timestamps (tag 1) become the number the JSON protocol uses.
    value, pos = _decode(data, pos)
    return value, pos


def _half(raw: bytes) -> float:
    half = int.from_bytes(raw, "big")
    exponent, mantissa = (half >> 10) & 0x1F, half & 0x3FF
    if exponent == 0:
        value = math.ldexp(mantissa, -24)
    elif exponent == 31:
        value = math.inf if mantissa == 0 else math.nan
    else:
        value = math.ldexp(mantissa + 1024, exponent - 25)
    return -value if half & 0x8000 else value


# --- the route -------------------------------------------------------------------------


def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("cloudwatch")


def _tag_timestamps(value: Any, shape: Any) -> Any:
    """The JSON protocol's epoch numbers, as CBOR timestamps (tag 1) where the model says."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "timestamp":
        return Tagged(1, float(value))
    if kind == "structure" and isinstance(value, dict):
        return {
            key: _tag_timestamps(item, shape.members.get(key))
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_tag_timestamps(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _tag_timestamps(item, shape.value) for key, item in value.items()}
    return value


def cbor_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    from moto.cloudwatch.responses import CloudWatchResponse
    from werkzeug.test import EnvironBuilder

    operation = full_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    body = request.get_data()
    payload = decode(body) if body else {}
    json_headers = {
        key: value
        for key, value in dict(headers).items()
        if key.lower() not in ("content-type", "content-length", "smithy-protocol", "accept")
    }
    json_headers["Content-Type"] = "application/x-amz-json-1.0"
    json_headers["X-Amz-Target"] = f"{TARGET_PREFIX}.{operation}"
    root = full_url.split("/service/", 1)[0] + "/"
    # The same request class moto's server made (it carries moto's own attributes).
    json_request = type(request)(
        EnvironBuilder(
            method="POST",
            base_url=root,
            path="/",
            headers=json_headers,
            data=json.dumps(payload),
        ).get_environ()
    )
    status, response_headers, response_body = CloudWatchResponse.dispatch(
        json_request, root, json_request.headers
    )
    text = response_body.decode("utf-8") if isinstance(response_body, bytes) else response_body
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        # An error moto words in another protocol: keep its status, say what it said.
        document = {"__type": "InternalFailure", "message": text}
    if 200 <= int(status) < 300:
        shape = _service_model().operation_model(operation).output_shape
        document = _tag_timestamps(document, shape)
    return (
        status,
        {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
        encode(document),
    )


def install() -> None:
    from moto.cloudwatch import urls

    urls.url_paths[PATH] = cbor_dispatch
