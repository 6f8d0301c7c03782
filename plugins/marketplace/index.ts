import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import { errorBody } from '../../src/errors.js';
import { parseJsonObject, readBody } from '../../src/http/body.js';
import { bearer, ProviderKeyDirectory } from '../../src/http/keys.js';
import { refuseUpgrade, type UpgradeRoutes } from '../../src/http/upgrade.js';
import { moneyServices } from '../../src/money/services.js';
import type { PluginHooks } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { InferFields } from '../../src/config/spec.js';
import { SettlementsKey } from '../change/state.js';
import { BillsKey } from '../metering/state.js';
import { PaymentsKey } from '../payment/state.js';
import type { providersConfig } from '../providers/config.js';
import { marketplaceConfig } from './config.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { keyDigest, MARKETPLACE_MIGRATIONS, MarketplaceAccounts } from './accounts.js';
import { heartbeatAck } from './ack.js';
import { MarketplaceMetrics } from './metrics.js';
import { AGENT_KEY, isAgentRegistration, parseAgentRegistration, ProviderKeys, RegistrationError } from './registration.js';
import { AgentSession } from './session.js';
import { AgentTransport } from './transport.js';
import { clusterSecret } from './directory.js';
import { RemoteAgentTransport } from './remote-transport.js';
import { ReplicaCluster } from './replicas.js';

const BODY_LIMIT = 64 * 1024;
/** A WebSocket dial must follow a registration of its key this recently (the agent registers before every dial). */
const REGISTRATION_WINDOW_MS = 10 * 60_000;
/** Node messages are a 4096-byte read, JSON-escaped: far below this. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** How much longer than its own timers a replica waits for the replica holding an agent. */
const REPLICA_MARGIN_MS = 10_000;

/**
 * The Owlrun node protocol, gateway side (docs/owlrun-node-protocol.md): GPU owners' agents
 * register (POST /v1/gateway/register with the agent's body), dial in over
 * GET /v1/gateway/ws?api_key=KEY, take jobs over that socket, fetch each job's request once
 * (GET /v1/gateway/jobs/{id}/proxy/request) and stream the answer back in proxy_chunk messages,
 * which AgentTransport turns into the same upstream byte stream an HTTP backend gives.
 * On a PostgreSQL store, replicas serve buyers with each other's agents (replicas.ts).
 * Switched on by `marketplace.enabled`.
 */
export async function create(deps: PluginDeps<InferFields<typeof marketplaceConfig> & InferFields<typeof providersConfig>>): Promise<PluginHooks> {
  const { config, db, pool } = deps;
  const log = deps.log.child({ plugin: 'marketplace' });
  const m = config.marketplace;
  const accounts = new MarketplaceAccounts(db);
  await accounts.init();
  const keys = new ProviderKeys(config, accounts);
  // Agents' keys authenticate the provider endpoints too (balance, withdraw-ecash).
  // Their payouts are padded cashuA: the agent parses nothing else.
  deps.services.provide(ProviderKeyDirectory, {
    lookup: async (key) => {
      if (!AGENT_KEY.test(key)) return undefined;
      const provider = await keys.lookup(key);
      return provider ? { provider, payoutFormat: 'A-padded' } : undefined;
    },
  });
  // With settlement (change) running, heartbeats report the node's earnings from the books.
  const money = deps.services.has(SettlementsKey) ? await moneyServices(deps) : undefined;

  let metrics: MarketplaceMetrics | undefined;
  // Replicas share one store only on PostgreSQL: there, agents connected to other replicas serve here too.
  const secret = db.dialect === 'postgres' ? await clusterSecret(db) : undefined;
  const remote = secret !== undefined
    ? new RemoteAgentTransport({
        secret,
        log,
        timeouts: { answerMs: m.acceptTimeoutMs + m.firstChunkTimeoutMs + REPLICA_MARGIN_MS, gapMs: m.chunkGapTimeoutMs + REPLICA_MARGIN_MS },
        onForward: (result) => metrics?.forwarded.inc({ result }),
      })
    : undefined;
  const transport = new AgentTransport({
    pool,
    log,
    timeouts: m,
    maxConcurrent: m.maxConcurrent,
    onEvent: (event) => metrics?.jobs.inc({ event }),
    yields: (node) => remote !== undefined && node.transport === remote,
  });
  let cluster: ReplicaCluster | undefined;
  metrics = new MarketplaceMetrics(deps.metrics, () => transport.connected, () => cluster?.remoteNodes ?? 0);
  if (remote && secret !== undefined) {
    cluster = new ReplicaCluster({
      db, pool, local: transport, remote, log, metrics, secret,
      syncMs: m.replicaSyncMs, replicaUrl: m.replicaUrl, listenHost: config.server.host, bodyLimit: config.server.bodyLimit,
      graceMs: config.server.shutdownGraceSeconds * 1000,
    });
  }
  const sessions = new Set<AgentSession>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });

  const hooks = {
    bound: (s: AgentSession) => {
      const node = transport.attach(s);
      if (node) cluster?.attached(node, s);
    },
    closed: (s: AgentSession) => {
      sessions.delete(s);
      const left = transport.detach(s);
      if (left) cluster?.detached(left);
    },
    load: (s: AgentSession) => transport.publishLoad(s),
    ack: (s: AgentSession) => heartbeatAck(money ? db : undefined, s.provider, transport.running, money?.billing.btcUsd() ?? 0, Date.now()),
  };

  /** The key rides in the URL's query only: the URL is never logged. */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const key = new URL(req.url ?? '/', 'http://gateway').searchParams.get('api_key') ?? '';
    (async () => {
      const registrations = key ? await accounts.registrations(key, Date.now() - REGISTRATION_WINDOW_MS) : [];
      if (registrations.length === 0) return refuseUpgrade(socket, 401, 'Unauthorized');
      // Only a registered agent's dial may fix the address other replicas reach this one at.
      cluster?.noteListener(req.socket);
      wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new AgentSession(ws, keyDigest(key), registrations[0]!.provider, registrations, hooks, log, m.pingIntervalSeconds * 1000);
        sessions.add(session);
      });
    })().catch((err: unknown) => {
      log.error({ err }, 'agent WebSocket upgrade failed');
      refuseUpgrade(socket, 500, 'Internal Server Error');
    });
  };

  cluster?.start();

  return {
    settlesWithoutStore: true,

    routes(router) {
      router.post('/v1/gateway/register', async (ctx, next) => {
        const body = parseJsonObject(await readBody(ctx.req, BODY_LIMIT));
        if (!isAgentRegistration(body)) return next();
        try {
          const provider = await keys.admit(bearer(ctx.get('authorization') || undefined), body.api_key, Date.now());
          const reg = parseAgentRegistration(body);
          await accounts.register(body.api_key as string, { provider, ...reg, registeredAt: Date.now() });
          metrics!.registrations.inc({ result: 'accepted' });
          log.info({ provider, node: reg.nodeId, models: reg.models }, 'Owlrun agent registered');
          ctx.status = 200;
          ctx.body = { status: 'registered', provider, node_id: reg.nodeId, models: reg.models };
        } catch (err) {
          if (!(err instanceof RegistrationError)) throw err;
          metrics!.registrations.inc({ result: 'refused' });
          ctx.status = err.status;
          ctx.body = err.body;
        }
      });

      router.get('/v1/gateway/jobs/:id/proxy/request', async (ctx) => {
        const key = bearer(ctx.get('authorization') || undefined);
        let body = key ? transport.takeRequest(ctx.params.id ?? '', key) : undefined;
        // Behind a load balancer the fetch may reach another replica than the agent's socket.
        if (!body && key && cluster) body = await cluster.fetchElsewhere(ctx.params.id ?? '', key);
        ctx.set('Cache-Control', 'no-store');
        if (!body) {
          ctx.status = 404;
          ctx.body = errorBody('job_not_found');
          return;
        }
        ctx.type = 'application/json';
        ctx.body = body;
      });

      cluster?.routes(router);
    },

    upgrades(routes: UpgradeRoutes) {
      routes.on('/v1/gateway/ws', upgrade);
      // Running jobs have ended: agents go and re-register (with another replica, or this one restarted).
      routes.onDrain(async () => {
        await cluster?.drain();
        await transport.drainAll();
      });
    },

    async onSettle(job, s) {
      const node = job.node;
      if (!node || (node.transport !== transport && (!remote || node.transport !== remote))) return;
      const bills = deps.services.find(BillsKey);
      const usage = bills?.usage(job);
      const bill = bills?.bill(job);
      const btcUsd = deps.services.find(PaymentsKey)?.quote(job)?.btcUsd ?? 0;
      const r = { tokens: (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0), earnedUsd: ((bill?.providerSats ?? 0) / 1e8) * btcUsd };
      // An agent held by another replica learns it from that replica.
      s.afterCommit(() => (node.transport === transport ? transport.complete(node.id, job.id, job.model, r) : remote!.complete(node, job.id, job.model, r)));
    },

    async close() {
      await cluster?.stop();
      for (const s of sessions) s.close();
      wss.close();
    },
  };
}

/**
 * Switched on by `marketplace.enabled` (not by `plugins:`). Before providers (500): its
 * POST /v1/gateway/register takes the agent's body and passes the rest on.
 */
export const manifest = definePlugin({
  name: 'marketplace',
  priority: 550,
  config: marketplaceConfig,
  enabledBy: (config) => config.marketplace.enabled,
  migrations: [MARKETPLACE_MIGRATIONS],
  uses: [SettlementsKey, BillsKey, PaymentsKey],
  create,
});
