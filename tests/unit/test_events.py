"""Every notification shape we accept, as the stores send it, parsed field by field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from trigger_service.events.parse import (
    IgnoredRecord,
    ObjectEvent,
    ParsedNotification,
    parse_notification,
    parse_sqs_message,
)

# --- samples, modelled on what each product sends ------------------------------------------

AWS_PUT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "eu-west-1",
            "eventTime": "2024-05-14T09:12:33.418Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDA4EXAMPLEUSERID"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {
                "x-amz-request-id": "7D8E3A1F2B4C5D6E",
                "x-amz-id-2": "q0mYyR3yV1rD2vFz8m2+o1kq2u0e4GJd8c/0nXo0Q1p3a4b5c6d7e8f9g0h1i2j3",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "uploads-to-bucketstream",
                "bucket": {
                    "name": "uploads",
                    "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                    "arn": "arn:aws:s3:::uploads",
                },
                "object": {
                    "key": "incoming/Summer+Trip/IMG_0042+%281%29.jpg",
                    "size": 2483911,
                    "eTag": "9b2cf535f27731c974343645a3985328",
                    "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
                    "sequencer": "00664329B1A4D5F6E7",
                },
            },
        }
    ]
}

MOTO_PUT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2024-05-14T09:12:33.418",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "bucketstream",
                "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
                "object": {
                    "key": "incoming%2Fholiday+photos%2Fbeach.jpg",
                    "size": 48213,
                    "eTag": "0f343b0931126a20f133d67c2b018a3b",
                },
            },
        }
    ]
}

LOCALSTACK_PUT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2024-05-14T09:12:33.418Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AIDAJDPLRKLG7UEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": "9f3c2a1b",
                "x-amz-id-2": "eftixk72aD6Ap51TnqcoF8eFidJG9Z/2",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "testConfigRule",
                "bucket": {
                    "name": "uploads",
                    "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": "arn:aws:s3:::uploads",
                },
                "object": {
                    "key": "incoming/my%20photo%20%282%29.jpg",
                    "size": 1024,
                    "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                    "versionId": None,
                    "sequencer": "0055AED6DCD90281E5",
                },
            },
        }
    ]
}

S3_TEST_EVENT: dict[str, Any] = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2024-05-14T09:00:01.126Z",
    "Bucket": "uploads",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}

FUNCTIONGRAPH_POST: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.0",
            "eventTime": "2024-05-14T07:50:50.028Z",
            "requestParameters": {"sourceIPAddress": "103.218.216.125"},
            "s3": {
                "configurationId": "UK1DGFPYUKUZFHNQ00000160CC0B471D101ED30CE24DF4DB",
                "object": {
                    "eTag": "9d377b10ce778c4938b3c7e2c63a229a",
                    "sequencer": "00000000160D9E681484D6B4C0000000",
                    "key": "images/cat+photo.png",
                    "size": 777835,
                },
                "bucket": {
                    "arn": "arn:fss:s3:::images-in",
                    "name": "images-in",
                    "ownerIdentity": {"PrincipalId": "0ed1b73473f24134a478962e631651eb"},
                },
            },
            "awsRegion": "cn-north-4",
            "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
        }
    ]
}

FUNCTIONGRAPH_PUT_WITH_SOURCE: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "aws:s3",
            "awsRegion": "eu-de",
            "eventTime": "2024-12-02T09:49:37.939Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "00a4a44afa9f43ceb520c82166407d58"},
            "requestParameters": {"sourceIPAddress": "172.27.48.44"},
            "responseElements": {
                "x-amz-request-id": "4e788bb2744a49a1ab04148b47bf51dc",
                "x-amz-id-2": "s7A0rE7V5QL/mQEYrVUdcFPrBcb1wrieHbjrAs4Gy9J09f2uLOC9deJSIhmXKGET",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "8ba3f66e-aa19-459d-8f4d-337998c50dc9",
                "bucket": {
                    "name": "fg-input",
                    "ownerIdentity": {"PrincipalId": "65b49ad6e14149e0b01abde940685697"},
                    "arn": "arn:aws:s3:::fg-input",
                },
                "object": {
                    "key": "notes.txt",
                    "eTag": "5d41402abc4b2a76b9719d911017c592",
                    "size": 5,
                    "versionId": "null",
                    "sequencer": "0000000019386C6871FB059ED0000000",
                },
            },
        }
    ]
}

OBS_SMN_POST: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "3.0",
            "eventSource": "OBS",
            "eventRegion": "cn-north-4",
            "eventTime": "2024-05-14T09:12:33.418Z",
            "eventName": "ObjectCreated:Post",
            "userIdentity": {"ID": "28a7528d52e5417cb9a0ac2dbb59ea05"},
            "requestParameters": {"sourceIPAddress": "10.147.244.52"},
            "responseElements": {
                "x-obs-request-id": "b27e6cbff1f6865c83111f130a982f56",
                "x-obs-id-2": "32AAAQAAEAABAAAQAAEAABAAAQAAEAABCT9Wy8bWmX8Lf3lnUXuo1BcoNjZvT8zW",
            },
            "obs": {
                "Version": "1.0",
                "configurationId": "obs-to-bucketstream",
                "bucket": {
                    "name": "uploads-obs",
                    "bucket": "uploads-obs",
                    "ownerIdentity": {"ID": "28a7528d52e5417cb9a0ac2dbb59ea05"},
                },
                "object": {
                    "key": "incoming/holiday+snaps/beach%2B1.jpg",
                    "eTag": '"6f9433fb110632de417e2e697dcb1b5f"',
                    "size": 112,
                    "versionId": "G00101A0F057D2A5FFFFCB8700806592null",
                    "sequencer": "0000000018F73F8B2D3C4A1B00000000",
                },
            },
        }
    ]
}

CLOUDEVENT_OBS: dict[str, Any] = {
    "datacontenttype": "application/json",
    "data": {
        "obs": {
            "bucket": {
                "bucket": "reports-bucket",
                "name": "reports-bucket",
                "arn": "",
                "ownerIdentity": {"ID": "28a7528d52e5417cb9a0ac2dbb59ea05"},
            },
            "Version": "1.0",
            "configurationId": "5d1b530b-be59-4fdc-adf7-f808cf06f8c9",
            "object": {
                "versionId": "G00101A0F057D2A5FFFFCB8700806593null",
                "oldpsxpth": "",
                "size": 58211,
                "eTag": "7b1d2f4e9c0a3b5d6e8f1a2b3c4d5e6f",
                "key": "reports/2024/Q1+summary.pdf",
                "sequencer": "1",
            },
        },
        "eventVersion": "3.0",
        "responseElements": {"x-obs-request-id": "c31e5cbff1f6865c83111f130a982f61"},
        "eventSource": "OBS",
        "eventTime": "2024-05-14T11:24:42.533Z",
        "requestParameters": {"sourceIPAddress": "10.147.244.52"},
        "eventName": "ObjectCreated:Put",
        "eventRegion": "cn-east-3",
        "userIdentity": {"ID": "28a7528d52e5417cb9a0ac2dbb59ea05"},
    },
    "subject": "reports/2024/Q1 summary.pdf",
    "specversion": "1.0",
    "id": "c31e5cbff1f6865c83111f130a982f61",
    "source": "HC.OBS.DWR",
    "time": "2024-05-14T03:24:43.167931174Z",
    "type": "OBS:DWR:ObjectCreated:PUT",
    "ttl": "4000",
    "dataschema": "",
}

MINIO_PUT: dict[str, Any] = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "photos/2024/50% off+sale.jpg",
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2024-05-14T09:27:27.114Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {
                "principalId": "minioadmin",
                "region": "",
                "sourceIPAddress": "172.16.118.255",
            },
            "responseElements": {
                "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
                "x-amz-request-id": "17CF1D2D3E4F5A6B",
                "x-minio-deployment-id": "0170a4cc-dca6-4e72-86f1-c0cc760dff7f",
                "x-minio-origin-endpoint": "http://172.17.0.2:9000",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {
                    "name": "photos",
                    "ownerIdentity": {"principalId": "minioadmin"},
                    "arn": "arn:aws:s3:::photos",
                },
                "object": {
                    "key": "2024%2F50%25+off%2Bsale.jpg",
                    "size": 224662,
                    "eTag": "5fc7298143efe1276d39a3466d4e255f",
                    "contentType": "image/jpeg",
                    "userMetadata": {"content-type": "image/jpeg"},
                    "sequencer": "17CF1D2D3F8A9B0C",
                },
            },
            "source": {"host": "172.16.118.255", "port": "", "userAgent": "MinIO (linux; amd64)"},
        }
    ],
}

CEPH_PUT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.2",
            "eventSource": "ceph:s3",
            "awsRegion": "default",
            "eventTime": "2024-05-14T13:47:35.124724Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "tester"},
            "requestParameters": {"sourceIPAddress": ""},
            "responseElements": {
                "x-amz-request-id": "503a4c37-85eb-47cd-8681-2817e80b4281.5330.903595",
                "x-amz-id-2": "14d2-zone1-zonegroup1",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "mynotif1",
                "bucket": {
                    "name": "mybucket1",
                    "ownerIdentity": {"principalId": "tester"},
                    "arn": "arn:aws:s3:default::mybucket1",
                    "id": "503a4c37-85eb-47cd-8681-2817e80b4281.5332.38",
                },
                "object": {
                    "key": "albums/a+b 100%.jpg",
                    "size": "1024",
                    "eTag": '"37b51d194a7513e45b56f6524f2d51f2"',
                    "versionId": "",
                    "sequencer": "F7E6D75DC742D108",
                    "metadata": [],
                    "tags": [],
                },
            },
            "eventId": "1575221657.102001.80dad3aad8584778352c68ea4fe0ebb3",
            "opaqueData": "me@example.com",
        }
    ]
}


def sns(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as an SQS queue subscribed to an SNS topic receives it."""
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads-events",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(message),
        "Timestamp": "2024-05-14T09:12:34.001Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0=",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }


def smn(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as a Huawei SMN HTTP(S) subscription delivers it."""
    return {
        "signature": "EXAMPLEbW1hZ2luZSBhIHNpZ25hdHVyZSBoZXJl",
        "subject": "OBS event",
        "topic_urn": "urn:smn:cn-north-4:4b26115b778e11ec833ecf74:obs-events",
        "message_id": "8a4f5c0e2b3d4e6f9a1b2c3d4e5f6a7b",
        "signature_version": "v1",
        "type": "Notification",
        "message": json.dumps(message),
        "unsubscribe_url": "https://smn.cn-north-4.myhuaweicloud.com/smn/subscribe/unsubscribe",
        "signing_cert_url": "https://smn.cn-north-4.myhuaweicloud.com/smn/oss/example.pem",
        "timestamp": "2024-05-14T09:12:34Z",
    }


def only_event(parsed: ParsedNotification) -> ObjectEvent:
    assert parsed.ignored == ()
    assert len(parsed.events) == 1
    return parsed.events[0]


# --- one sample per shape, every field ----------------------------------------------------

AWS_EVENT = ObjectEvent(
    bucket="uploads",
    key="incoming/Summer Trip/IMG_0042 (1).jpg",
    size=2483911,
    etag="9b2cf535f27731c974343645a3985328",
    version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    event_name="ObjectCreated:Put",
    sequencer="00664329B1A4D5F6E7",
    event_time=datetime(2024, 5, 14, 9, 12, 33, 418000, tzinfo=UTC),
    source="aws",
)


def test_aws_s3_record() -> None:
    assert only_event(parse_notification(AWS_PUT)) == AWS_EVENT


def test_json_text_and_bytes_give_the_same_event() -> None:
    text = json.dumps(AWS_PUT)
    assert only_event(parse_notification(text)) == AWS_EVENT
    assert only_event(parse_notification(text.encode())) == AWS_EVENT


def test_sns_wrapped_sqs_body() -> None:
    assert only_event(parse_sqs_message(json.dumps(sns(AWS_PUT)))) == AWS_EVENT


def test_moto_record_quirks() -> None:
    event = only_event(parse_notification(MOTO_PUT))
    assert event == ObjectEvent(
        bucket="uploads",
        key="incoming/holiday photos/beach.jpg",
        size=48213,
        etag="0f343b0931126a20f133d67c2b018a3b",
        version_id=None,
        event_name="ObjectCreated:Put",
        sequencer=None,
        event_time=datetime(2024, 5, 14, 9, 12, 33, 418000, tzinfo=UTC),
        source="aws",
    )
    assert event.event_time is not None
    assert event.event_time.tzinfo is UTC


def test_localstack_record_percent_20_spaces() -> None:
    assert only_event(parse_notification(LOCALSTACK_PUT)) == ObjectEvent(
        bucket="uploads",
        key="incoming/my photo (2).jpg",
        size=1024,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        version_id=None,
        event_name="ObjectCreated:Put",
        sequencer="0055AED6DCD90281E5",
        event_time=datetime(2024, 5, 14, 9, 12, 33, 418000, tzinfo=UTC),
        source="aws",
    )


@pytest.mark.parametrize("wrap", [lambda m: m, sns], ids=["direct", "sns"])
def test_s3_test_event_is_ignored(wrap: Any) -> None:
    parsed = parse_notification(wrap(S3_TEST_EVENT))
    assert parsed.events == ()
    assert parsed.ignored == (IgnoredRecord("test_event", "s3:TestEvent for bucket 'uploads'"),)


def test_functiongraph_obs_trigger_without_event_source() -> None:
    assert only_event(parse_notification(FUNCTIONGRAPH_POST)) == ObjectEvent(
        bucket="images-in",
        key="images/cat photo.png",
        size=777835,
        etag="9d377b10ce778c4938b3c7e2c63a229a",
        version_id=None,
        event_name="ObjectCreated:Post",
        sequencer="00000000160D9E681484D6B4C0000000",
        event_time=datetime(2024, 5, 14, 7, 50, 50, 28000, tzinfo=UTC),
        source="obs-functiongraph",
    )


def test_functiongraph_obs_trigger_with_aws_event_source() -> None:
    assert only_event(parse_notification(FUNCTIONGRAPH_PUT_WITH_SOURCE)) == ObjectEvent(
        bucket="fg-input",
        key="notes.txt",
        size=5,
        etag="5d41402abc4b2a76b9719d911017c592",
        version_id=None,
        event_name="ObjectCreated:Put",
        sequencer="0000000019386C6871FB059ED0000000",
        event_time=datetime(2024, 12, 2, 9, 49, 37, 939000, tzinfo=UTC),
        source="obs-functiongraph",
    )


OBS_EVENT = ObjectEvent(
    bucket="uploads-obs",
    key="incoming/holiday snaps/beach+1.jpg",
    size=112,
    etag="6f9433fb110632de417e2e697dcb1b5f",
    version_id="G00101A0F057D2A5FFFFCB8700806592null",
    event_name="ObjectCreated:Post",
    sequencer="0000000018F73F8B2D3C4A1B00000000",
    event_time=datetime(2024, 5, 14, 9, 12, 33, 418000, tzinfo=UTC),
    source="obs",
)


def test_obs_native_notification() -> None:
    assert only_event(parse_notification(OBS_SMN_POST)) == OBS_EVENT


def test_obs_native_notification_through_smn_http() -> None:
    assert only_event(parse_notification(json.dumps(smn(OBS_SMN_POST)))) == OBS_EVENT


def test_obs_bucket_given_only_as_bucket_member() -> None:
    body = copy.deepcopy(OBS_SMN_POST)
    del body["Records"][0]["obs"]["bucket"]["name"]
    assert only_event(parse_notification(body)).bucket == "uploads-obs"


CLOUDEVENT_EVENT = ObjectEvent(
    bucket="reports-bucket",
    key="reports/2024/Q1 summary.pdf",
    size=58211,
    etag="7b1d2f4e9c0a3b5d6e8f1a2b3c4d5e6f",
    version_id="G00101A0F057D2A5FFFFCB8700806593null",
    event_name="ObjectCreated:Put",
    sequencer="1",
    event_time=datetime(2024, 5, 14, 11, 24, 42, 533000, tzinfo=UTC),
    source="cloudevents",
)


def test_cloudevent_with_obs_record_as_data() -> None:
    assert only_event(parse_notification(CLOUDEVENT_OBS)) == CLOUDEVENT_EVENT


def test_cloudevent_record_without_time_takes_the_cloudevent_time() -> None:
    body = copy.deepcopy(CLOUDEVENT_OBS)
    del body["data"]["eventTime"]
    event = only_event(parse_notification(body))
    assert event.event_time == datetime(2024, 5, 14, 3, 24, 43, 167931, tzinfo=UTC)


def test_cloudevent_with_records_list_as_data() -> None:
    body = copy.deepcopy(CLOUDEVENT_OBS)
    body["data"] = {"Records": [body["data"], body["data"]]}
    assert parse_notification(body).events == (CLOUDEVENT_EVENT, CLOUDEVENT_EVENT)


def test_cloudevent_with_data_as_json_text() -> None:
    body = copy.deepcopy(CLOUDEVENT_OBS)
    body["data"] = json.dumps(body["data"])
    assert only_event(parse_notification(body)) == CLOUDEVENT_EVENT


MINIO_EVENT = ObjectEvent(
    bucket="photos",
    key="2024/50% off+sale.jpg",
    size=224662,
    etag="5fc7298143efe1276d39a3466d4e255f",
    version_id=None,
    event_name="ObjectCreated:Put",
    sequencer="17CF1D2D3F8A9B0C",
    event_time=datetime(2024, 5, 14, 9, 27, 27, 114000, tzinfo=UTC),
    source="minio",
)


def test_minio_webhook_decodes_record_key_once() -> None:
    assert only_event(parse_notification(MINIO_PUT)) == MINIO_EVENT


def test_minio_top_level_key_is_not_decoded_again() -> None:
    body = {"EventName": MINIO_PUT["EventName"], "Key": MINIO_PUT["Key"]}
    assert only_event(parse_notification(body)) == ObjectEvent(
        bucket="photos",
        key="2024/50% off+sale.jpg",
        size=None,
        etag=None,
        version_id=None,
        event_name="ObjectCreated:Put",
        sequencer=None,
        event_time=None,
        source="minio",
    )


def test_minio_bucket_event_is_ignored() -> None:
    parsed = parse_notification({"EventName": "s3:BucketCreated", "Key": "photos/"})
    assert parsed.events == ()
    assert [ignored.reason for ignored in parsed.ignored] == ["not_object_event"]


CEPH_EVENT = ObjectEvent(
    bucket="mybucket1",
    key="albums/a+b 100%.jpg",
    size=1024,
    etag="37b51d194a7513e45b56f6524f2d51f2",
    version_id=None,
    event_name="ObjectCreated:Put",
    sequencer="F7E6D75DC742D108",
    event_time=datetime(2024, 5, 14, 13, 47, 35, 124724, tzinfo=UTC),
    source="ceph",
)


def test_ceph_record_string_size_quoted_etag_raw_key() -> None:
    assert only_event(parse_notification(CEPH_PUT)) == CEPH_EVENT


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("eTag", "37b51d194a7513e45b56f6524f2d51f2"),
        ("etag", '"37b51d194a7513e45b56f6524f2d51f2"'),
        ("eTag", "&quot;37b51d194a7513e45b56f6524f2d51f2&quot;"),
    ],
)
def test_ceph_etag_variants(member: str, value: str) -> None:
    body = copy.deepcopy(CEPH_PUT)
    obj = body["Records"][0]["s3"]["object"]
    del obj["eTag"]
    obj[member] = value
    assert only_event(parse_notification(body)).etag == "37b51d194a7513e45b56f6524f2d51f2"


def test_ceph_prefixed_event_name_is_normalised() -> None:
    body = copy.deepcopy(CEPH_PUT)
    body["Records"][0]["eventName"] = "s3:ObjectCreated:Put"
    assert only_event(parse_notification(body)).event_name == "ObjectCreated:Put"


# --- other families, other records, several records --------------------------------------


def test_object_removed_is_parsed_too() -> None:
    body = copy.deepcopy(AWS_PUT)
    record = body["Records"][0]
    record["eventName"] = "ObjectRemoved:DeleteMarkerCreated"
    del record["s3"]["object"]["size"], record["s3"]["object"]["eTag"]
    event = only_event(parse_notification(body))
    assert (event.event_name, event.size, event.etag) == (
        "ObjectRemoved:DeleteMarkerCreated",
        None,
        None,
    )


def test_records_keep_their_order_and_non_object_records_are_ignored() -> None:
    second = copy.deepcopy(AWS_PUT["Records"][0])
    second["s3"]["object"]["key"] = "incoming/second.jpg"
    other_service = {"eventSource": "aws:sqs", "eventName": "SendMessage", "body": "{}"}
    body = {"Records": [AWS_PUT["Records"][0], other_service, second]}
    parsed = parse_notification(body)
    assert [event.key for event in parsed.events] == [AWS_EVENT.key, "incoming/second.jpg"]
    assert parsed.ignored == (
        IgnoredRecord("not_object_event", "Records[1]: 'aws:sqs' record has no s3 or obs object"),
    )


def test_empty_records_list_gives_nothing() -> None:
    assert parse_notification({"Records": []}) == ParsedNotification()


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_topic_subscription_messages_are_ignored(kind: str) -> None:
    body = {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads-events",
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
    }
    parsed = parse_notification(body)
    assert parsed.events == ()
    assert parsed.ignored == (
        IgnoredRecord(
            "subscription_message",
            f"{kind} for topic 'arn:aws:sns:eu-west-1:123456789012:uploads-events'",
        ),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-14T09:12:33Z", datetime(2024, 5, 14, 9, 12, 33, tzinfo=UTC)),
        ("2024-05-14T11:12:33.5+02:00", datetime(2024, 5, 14, 9, 12, 33, 500000, tzinfo=UTC)),
        ("2024-05-14T09:12:33", datetime(2024, 5, 14, 9, 12, 33, tzinfo=UTC)),
        ("", None),
    ],
)
def test_event_times_become_utc(raw: str, expected: datetime | None) -> None:
    body = copy.deepcopy(AWS_PUT)
    body["Records"][0]["eventTime"] = raw
    assert only_event(parse_notification(body)).event_time == expected


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        AWS_EVENT.key = "other"  # type: ignore[misc]
