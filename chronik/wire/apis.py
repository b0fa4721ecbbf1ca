"""The API keys the broker serves, with kafka-python's classes and versions.

The version ranges come from kafka-python's schemas, which are Kafka 4.x's
own message definitions; a handler module exists for every key listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.protocol.admin.acl import (
    CreateAclsRequest,
    CreateAclsResponse,
    DeleteAclsRequest,
    DeleteAclsResponse,
    DescribeAclsRequest,
    DescribeAclsResponse,
)
from kafka.protocol.admin.client_quotas import DescribeClientQuotasRequest, DescribeClientQuotasResponse
from kafka.protocol.admin.cluster import (
    DescribeClusterRequest,
    DescribeClusterResponse,
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
)
from kafka.protocol.admin.configs import (
    AlterConfigsRequest,
    AlterConfigsResponse,
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from kafka.protocol.admin.groups import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.admin.topics import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)
from kafka.protocol.admin.transactions import (
    DescribeProducersRequest,
    DescribeProducersResponse,
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    ListTransactionsRequest,
    ListTransactionsResponse,
)
from kafka.protocol.admin.users import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
)
from kafka.protocol.api_message import ApiMessage
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.group import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetDeleteRequest,
    OffsetDeleteResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from kafka.protocol.consumer.offsets import (
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
)
from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.find_coordinator import (
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from chronik.wire.kip848 import (
    ConsumerGroupDescribeRequest,
    ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)


@dataclass(frozen=True, slots=True)
class ApiSpec:
    key: int
    name: str
    request: type[ApiMessage]
    response: type[ApiMessage]
    min_version: int
    max_version: int

    def flexible(self, version: int) -> bool:
        return bool(self.request.flexible_version_q(version))


def _spec(req: type[ApiMessage], resp: type[ApiMessage], min_version: int | None = None) -> ApiSpec:
    lo, hi = req.valid_versions
    return ApiSpec(
        key=req.API_KEY,
        name=req.name.removesuffix("Request"),
        request=req,
        response=resp,
        min_version=lo if min_version is None else min_version,
        max_version=hi,
    )


# Every API the broker can decode. Which of them are *advertised* is decided
# by the handler registry (an API without a handler is not listed).
ALL_APIS: dict[int, ApiSpec] = {
    s.key: s
    for s in [
        # Produce is advertised from v0 like Kafka 4 does: librdkafka
        # misbehaves when the minimum is higher (KAFKA-18659).
        _spec(ProduceRequest, ProduceResponse, min_version=0),
        _spec(FetchRequest, FetchResponse),
        _spec(ListOffsetsRequest, ListOffsetsResponse),
        _spec(MetadataRequest, MetadataResponse),
        _spec(OffsetCommitRequest, OffsetCommitResponse),
        _spec(OffsetFetchRequest, OffsetFetchResponse),
        _spec(FindCoordinatorRequest, FindCoordinatorResponse),
        _spec(JoinGroupRequest, JoinGroupResponse),
        _spec(HeartbeatRequest, HeartbeatResponse),
        _spec(LeaveGroupRequest, LeaveGroupResponse),
        _spec(SyncGroupRequest, SyncGroupResponse),
        _spec(DescribeGroupsRequest, DescribeGroupsResponse),
        _spec(ListGroupsRequest, ListGroupsResponse),
        _spec(ApiVersionsRequest, ApiVersionsResponse),
        _spec(CreateTopicsRequest, CreateTopicsResponse),
        _spec(DeleteTopicsRequest, DeleteTopicsResponse),
        _spec(DeleteRecordsRequest, DeleteRecordsResponse),
        _spec(InitProducerIdRequest, InitProducerIdResponse),
        _spec(OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
        _spec(AddPartitionsToTxnRequest, AddPartitionsToTxnResponse),
        _spec(AddOffsetsToTxnRequest, AddOffsetsToTxnResponse),
        _spec(EndTxnRequest, EndTxnResponse),
        _spec(TxnOffsetCommitRequest, TxnOffsetCommitResponse),
        _spec(DescribeConfigsRequest, DescribeConfigsResponse),
        _spec(AlterConfigsRequest, AlterConfigsResponse),
        _spec(DescribeLogDirsRequest, DescribeLogDirsResponse),
        _spec(CreatePartitionsRequest, CreatePartitionsResponse),
        _spec(DeleteGroupsRequest, DeleteGroupsResponse),
        _spec(IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
        _spec(OffsetDeleteRequest, OffsetDeleteResponse),
        _spec(DescribeClusterRequest, DescribeClusterResponse),
        _spec(DescribeProducersRequest, DescribeProducersResponse),
        _spec(DescribeTransactionsRequest, DescribeTransactionsResponse),
        _spec(ListTransactionsRequest, ListTransactionsResponse),
        _spec(DescribeClientQuotasRequest, DescribeClientQuotasResponse),
        _spec(SaslHandshakeRequest, SaslHandshakeResponse),
        _spec(SaslAuthenticateRequest, SaslAuthenticateResponse),
        _spec(DescribeAclsRequest, DescribeAclsResponse),
        _spec(CreateAclsRequest, CreateAclsResponse),
        _spec(DeleteAclsRequest, DeleteAclsResponse),
        _spec(DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse),
        _spec(AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse),
        _spec(ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse),
        _spec(ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse),
    ]
}
