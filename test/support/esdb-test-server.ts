/**
 * An EventStoreDB gRPC test server: the real @eventstore/db-client talks to it over HTTP/2 with
 * the client's own generated service definitions. Implements what the adapter uses:
 * ServerFeatures.GetSupportedMethods, Streams.BatchAppend (the production append path),
 * Streams.Append (the fallback), and Streams.Read for one stream and for $all.
 */
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { EsdbTestLog, EsdbTestLogOptions, ProposedEvent, StoredEvent } from './esdb-test-log';
import {
  appendSuccess,
  appendWrongExpectedVersion,
  batchSuccess,
  batchWrongExpectedVersion,
  expectedOfAppend,
  expectedOfBatch,
  proposedEvent,
  readEventResp,
  streamName,
  streamNotFoundResp,
} from './esdb-test-messages';

export interface EsdbTestServerOptions extends EsdbTestLogOptions {
  /** false: do not advertise batchappend, so the client falls back to Streams.Append. */
  advertiseBatchAppend?: boolean;
}

export interface EsdbTestServer {
  connectionString: string;
  log: EsdbTestLog;
  /** Calls received per method, and Read calls still open (a cancelled read closes). */
  calls: { batchAppend: number; append: number; read: number; openReads: number };
  /** true: Read calls are accepted and never answered (a stalled server); the connection stays up. */
  stallReads: boolean;
  close(): Promise<void>;
}

/** Above 2^53: positions that only survive as bigint. */
export const BEYOND_SAFE_INTEGER = 2n ** 53n + 7n;

export async function startEsdbTestServer(options: EsdbTestServerOptions = {}): Promise<EsdbTestServer> {
  const log = new EsdbTestLog(options);
  const calls = { batchAppend: 0, append: 0, read: 0, openReads: 0 };
  const control = { stallReads: false };
  const server = new grpc.Server();
  server.addService(ServerFeaturesService, {
    getSupportedMethods: (_call: grpc.ServerUnaryCall<Empty, SupportedMethods>, callback: grpc.sendUnaryData<SupportedMethods>) =>
      callback(null, supportedMethods(options.advertiseBatchAppend ?? true)),
  });
  server.addService(StreamsService, {
    read: (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => {
      calls.read += 1;
      calls.openReads += 1;
      call.once('close', () => (calls.openReads -= 1));
      if (control.stallReads) return;
      void handleRead(log, call);
    },
    append: (call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) => {
      calls.append += 1;
      handleAppend(log, call, callback);
    },
    batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
      calls.batchAppend += 1;
      handleBatchAppend(log, call);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    log,
    calls,
    get stallReads() {
      return control.stallReads;
    },
    set stallReads(value: boolean) {
      control.stallReads = value;
    },
    async close() {
      // Clients keep their BatchAppend stream open; a graceful shutdown would wait for it.
      server.forceShutdown();
    },
  };
}

function supportedMethods(batchAppend: boolean): SupportedMethods {
  const methods = new SupportedMethods();
  methods.setEventStoreServerVersion('23.10.0-test');
  const names: Array<[string, string]> = [
    ['event_store.client.streams.streams', 'read'],
    ['event_store.client.streams.streams', 'append'],
    ['event_store.client.server_features.serverfeatures', 'getsupportedmethods'],
  ];
  if (batchAppend) names.push(['event_store.client.streams.streams', 'batchappend']);
  for (const [service, method] of names) {
    const supported = new SupportedMethod();
    supported.setServiceName(service);
    supported.setMethodName(method);
    methods.addMethods(supported);
  }
  return methods;
}

/** Bidirectional: requests carry a correlation id; a batch may span messages and ends with is_final. */
function handleBatchAppend(log: EsdbTestLog, call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
  const pending = new Map<string, { options: BatchAppendReq.Options; events: ProposedEvent[] }>();
  call.on('data', (req: BatchAppendReq) => {
    const correlationId = req.getCorrelationId();
    if (!correlationId) return call.destroy(new Error('BatchAppend request without correlation id'));
    const key = correlationId.getString();
    const options = req.getOptions();
    const batch = pending.get(key) ?? (options ? { options, events: [] } : undefined);
    if (!batch) return call.destroy(new Error('BatchAppend batch without options'));
    batch.events.push(...req.getProposedMessagesList().map(proposedEvent));
    pending.set(key, batch);
    if (!req.getIsFinal()) return;
    pending.delete(key);
    const stream = streamName(batch.options.getStreamIdentifier());
    const expected = expectedOfBatch(batch.options);
    const outcome = log.append(stream, expected, batch.events);
    call.write(
      outcome.ok
        ? batchSuccess(correlationId, stream, outcome.revision, outcome.position)
        : batchWrongExpectedVersion(correlationId, stream, expected, outcome.current),
    );
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

/** Client-streaming: options first, then one proposed message per request. */
function handleAppend(log: EsdbTestLog, call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>): void {
  let options: AppendReq.Options | undefined;
  const events: ProposedEvent[] = [];
  call.on('data', (req: AppendReq) => {
    if (req.hasOptions()) options = req.getOptions();
    else if (req.hasProposedMessage()) events.push(proposedEvent(req.getProposedMessage()!));
  });
  call.on('end', () => {
    if (!options) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Append without options' });
    const stream = streamName(options.getStreamIdentifier());
    const expected = expectedOfAppend(options);
    const outcome = log.append(stream, expected, events);
    callback(null, outcome.ok ? appendSuccess(outcome.revision, outcome.position) : appendWrongExpectedVersion(expected, outcome.current));
  });
  call.on('error', () => undefined);
}

async function handleRead(log: EsdbTestLog, call: grpc.ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
  const options = call.request.getOptions();
  if (!options || options.hasSubscription()) {
    call.destroy(Object.assign(new Error('only reads are implemented'), { code: grpc.status.UNIMPLEMENTED }));
    return;
  }
  const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
  const count = options.hasCount() ? Number(options.getCount()) : Number.MAX_SAFE_INTEGER;
  let selected: StoredEvent[];
  if (options.hasStream()) {
    const streamOptions = options.getStream()!;
    const name = streamName(streamOptions.getStreamIdentifier());
    const stream = log.stream(name);
    if (!stream) {
      call.write(streamNotFoundResp(name));
      call.end();
      return;
    }
    selected = selectStream(stream, streamOptions, backwards);
  } else {
    selected = selectAll(log.all, options.getAll()!, backwards);
  }
  let cancelled = false;
  call.once('cancelled', () => (cancelled = true));
  for (const event of selected.slice(0, count)) {
    if (cancelled) return;
    // Respect HTTP/2 flow control: a slow reader holds the server back instead of buffering all.
    if (!call.write(readEventResp(event))) await Promise.race([once(call, 'drain'), once(call, 'cancelled')]);
  }
  if (!cancelled) call.end();
}

/** Stream reads include the given revision in both directions. */
function selectStream(stream: StoredEvent[], options: ReadReq.Options.StreamOptions, backwards: boolean): StoredEvent[] {
  if (backwards) {
    const from = options.hasRevision() ? BigInt(options.getRevision()) : options.hasStart() ? -1n : BigInt(stream.length);
    return stream.filter((e) => e.revision <= from).reverse();
  }
  const from = options.hasRevision() ? BigInt(options.getRevision()) : options.hasEnd() ? BigInt(stream.length) : 0n;
  return stream.filter((e) => e.revision >= from);
}

/** $all: forwards includes the given position; backwards returns what lies before it. */
function selectAll(all: StoredEvent[], options: ReadReq.Options.AllOptions, backwards: boolean): StoredEvent[] {
  const position = options.hasPosition() ? BigInt(options.getPosition()!.getCommitPosition()) : undefined;
  if (backwards) {
    if (options.hasStart()) return [];
    return all.filter((e) => position === undefined || e.position < position).reverse();
  }
  if (options.hasEnd()) return [];
  return all.filter((e) => position === undefined || e.position >= position);
}
