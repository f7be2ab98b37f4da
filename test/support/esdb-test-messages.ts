/**
 * Protobuf messages of the EventStoreDB test server, built with the client's own generated
 * classes (so both sides share one google-protobuf copy and one wire format).
 */
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { Empty, StreamIdentifier, UUID, WrongExpectedVersion, AllStreamPosition } from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { ExpectedRevision, ProposedEvent, StoredEvent } from './esdb-test-log';

export function streamName(identifier: StreamIdentifier | undefined): string {
  if (!identifier) throw new Error('request without stream identifier');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

function streamIdentifier(name: string): StreamIdentifier {
  const identifier = new StreamIdentifier();
  identifier.setStreamName(Buffer.from(name, 'utf8'));
  return identifier;
}

function uuidString(uuid: UUID | undefined): string {
  if (!uuid?.hasString()) throw new Error('this test server only speaks string UUIDs');
  return uuid.getString();
}

export function proposedEvent(message: AppendReq.ProposedMessage | BatchAppendReq.ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  return {
    id: uuidString(message.getId()),
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    customMetadata: message.getCustomMetadata_asU8(),
  };
}

export function expectedOfBatch(options: BatchAppendReq.Options): ExpectedRevision {
  if (options.hasStreamPosition()) return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

export function expectedOfAppend(options: AppendReq.Options): ExpectedRevision {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

export function readEventResp(event: StoredEvent): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent();
  const id = new UUID();
  id.setString(event.id);
  recorded.setId(id);
  recorded.setStreamIdentifier(streamIdentifier(event.streamId));
  recorded.setStreamRevision(event.revision.toString());
  recorded.setCommitPosition(event.position.toString());
  recorded.setPreparePosition(event.position.toString());
  const metadata = recorded.getMetadataMap();
  metadata.set('type', event.type);
  metadata.set('content-type', event.contentType);
  metadata.set('created', event.createdTicks.toString());
  recorded.setCustomMetadata(event.customMetadata);
  recorded.setData(event.data);
  const readEvent = new ReadResp.ReadEvent();
  readEvent.setEvent(recorded);
  readEvent.setCommitPosition(event.position.toString());
  const resp = new ReadResp();
  resp.setEvent(readEvent);
  return resp;
}

export function streamNotFoundResp(name: string): ReadResp {
  const notFound = new ReadResp.StreamNotFound();
  notFound.setStreamIdentifier(streamIdentifier(name));
  const resp = new ReadResp();
  resp.setStreamNotFound(notFound);
  return resp;
}

export function batchSuccess(correlationId: UUID, stream: string, revision: bigint, position: bigint): BatchAppendResp {
  const success = new BatchAppendResp.Success();
  success.setCurrentRevision(revision.toString());
  const allPosition = new AllStreamPosition();
  allPosition.setCommitPosition(position.toString());
  allPosition.setPreparePosition(position.toString());
  success.setPosition(allPosition);
  const resp = new BatchAppendResp();
  resp.setCorrelationId(correlationId);
  resp.setStreamIdentifier(streamIdentifier(stream));
  resp.setSuccess(success);
  return resp;
}

/** A version conflict as the server reports it on BatchAppend: google.rpc.Status with a packed detail. */
export function batchWrongExpectedVersion(correlationId: UUID, stream: string, expected: ExpectedRevision, current: bigint | undefined): BatchAppendResp {
  const detail = new WrongExpectedVersion();
  if (current === undefined) detail.setCurrentNoStream(new GoogleEmpty());
  else detail.setCurrentStreamRevision(current.toString());
  if (expected.kind === 'revision') detail.setExpectedStreamPosition(expected.revision.toString());
  else if (expected.kind === 'no_stream') detail.setExpectedNoStream(new GoogleEmpty());
  else if (expected.kind === 'stream_exists') detail.setExpectedStreamExists(new GoogleEmpty());
  else detail.setExpectedAny(new GoogleEmpty());
  const packed = new Any();
  packed.pack(detail.serializeBinary(), 'event_store.client.WrongExpectedVersion');
  const status = new Status();
  status.setCode(Code.FAILED_PRECONDITION);
  status.setMessage('WrongExpectedVersion');
  status.setDetails(packed);
  const resp = new BatchAppendResp();
  resp.setCorrelationId(correlationId);
  resp.setStreamIdentifier(streamIdentifier(stream));
  resp.setError(status);
  return resp;
}

export function appendSuccess(revision: bigint, position: bigint): AppendResp {
  const success = new AppendResp.Success();
  success.setCurrentRevision(revision.toString());
  const allPosition = new AppendResp.Position();
  allPosition.setCommitPosition(position.toString());
  allPosition.setPreparePosition(position.toString());
  success.setPosition(allPosition);
  const resp = new AppendResp();
  resp.setSuccess(success);
  return resp;
}

export function appendWrongExpectedVersion(expected: ExpectedRevision, current: bigint | undefined): AppendResp {
  const wrong = new AppendResp.WrongExpectedVersion();
  if (current === undefined) wrong.setCurrentNoStream(new Empty());
  else wrong.setCurrentRevision(current.toString());
  if (expected.kind === 'revision') wrong.setExpectedRevision(expected.revision.toString());
  else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new Empty());
  else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
  else wrong.setExpectedAny(new Empty());
  const resp = new AppendResp();
  resp.setWrongExpectedVersion(wrong);
  return resp;
}
