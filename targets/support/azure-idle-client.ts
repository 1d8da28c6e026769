/**
 * An idle limit for the Azure SDK's requests (targets/support/idle-timeout.ts): the SDK has
 * none of its own (its tryTimeoutInMs only asks the server to give up), so a share that stopped
 * answering held a run forever. A policy in the client's pipeline sends requests through agents
 * whose sockets fail after idleMs without a byte either way; the SDK's retry policy retries that
 * as a timeout. A download (a streamed answer) keeps the default agents, whose sockets may idle
 * while lsbackup pauses reading on purpose: its answer must start within idleMs, and
 * guardStalls watches its body.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { AnonymousCredential, Pipeline, StorageSharedKeyCredential, type RequestPolicyFactory } from '@azure/storage-file-share';
import { idleSocketError } from './idle-timeout.js';

/** The pipeline of a ShareServiceClient signing with `credential`, its requests limited to `idleMs` without progress (0: none). */
export function idleLimitedPipeline(credential: StorageSharedKeyCredential | AnonymousCredential, idleMs: number): Pipeline {
  return new Pipeline(idleMs > 0 ? [credential, idleLimitPolicy(idleMs)] : [credential]);
}

function idleLimitPolicy(idleMs: number): RequestPolicyFactory {
  const agents = { http: idleLimitedAgent(http.Agent, idleMs), https: idleLimitedAgent(https.Agent, idleMs) };
  return {
    create: (next) => ({
      sendRequest(request) {
        if (request.streamResponseStatusCodes?.size) request.timeout ||= idleMs;
        else request.agent ??= request.url.startsWith('https:') ? agents.https : agents.http;
        return next.sendRequest(request);
      },
    }),
  };
}

function idleLimitedAgent<A extends typeof http.Agent>(Agent: A, idleMs: number): InstanceType<A> {
  const agent = new Agent({ keepAlive: true, timeout: idleMs }) as InstanceType<A>;
  const create = agent.createConnection.bind(agent) as (...args: unknown[]) => Socket;
  agent.createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    socket.on('timeout', () => {
      // In use, the request listens for errors and fails with this one (ETIMEDOUT: retried);
      // an idle pooled socket has no listener and is closed by the agent itself.
      if (socket.listenerCount('error') === 0) return;
      socket.destroy(idleSocketError(idleMs));
    });
    return socket;
  };
  return agent;
}
