import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { createListener } from './app.js';
import { AccessLog, type AccessSink } from './http/access-log.js';
import type { GatewayConfig } from './config/types.js';
import { fixedRateWarning, type PricingPlugins } from './billing/rate-warning.js';
import { MintMonitor, TrustedMintsKey } from './cashu/mint-monitor.js';
import { createLogger, logDestination } from './log.js';
import { GatewayMetrics } from './metrics/registry.js';
import { resolvePlugins, type PluginCatalogue } from './pipeline/manifest.js';
import { loadPlugins, type PluginDeps } from './pipeline/registry.js';
import { UpgradeRoutes } from './http/upgrade.js';
import { PluginRunner } from './pipeline/runner.js';
import { readiness, RateViewKey, type RateView } from './ops/readiness.js';
import { Services } from './pipeline/services.js';
import { Forwarder } from './proxy/forward.js';
import { BackendPool } from './proxy/pool.js';
import { AdmissionQueue } from './queue/admission.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { openDb } from './store/open.js';
import { allMigrations } from './migrations.js';

export interface GatewayOptions {
  /** The plugins `config.plugins` picks from (the composition root passes the shipped ones). */
  catalogue: PluginCatalogue;
  log?: Logger;
  /** Use this store instead of opening config.store.url (tests share one). */
  db?: Db;
  metrics?: GatewayMetrics;
  /** The clock plugins read (tests). */
  now?: () => number;
  /** The fetch plugins use for outside HTTP calls (tests). */
  fetch?: typeof fetch;
  /** Where the access log goes (default: stdout when log.access is on and log.level is not silent). */
  accessLog?: AccessSink;
}

/** One running gateway: store, dev mint, backend pool, plugins, HTTP server. */
export class Gateway {
  url = '';
  private draining = false;
  private readonly sockets = new Set<Socket>();
  private readonly active = new Set<Promise<void>>();
  private server?: http.Server;
  private ownsDb = false;
  private readonly closers: (() => Promise<void> | void)[] = [];
  private readonly upgrades = new UpgradeRoutes();
  private accessLog?: AccessLog;
  /** The trusted mints' reachability checks (absent without the payment plugin). */
  mints?: MintMonitor;

  private constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
    readonly db: Db,
    readonly pool: BackendPool,
    readonly queue: AdmissionQueue,
    readonly runner: PluginRunner,
    private readonly forwarder: Forwarder,
    readonly metrics: GatewayMetrics,
    /** What the plugins provide, by typed key (tests reach a plugin's controls through it). */
    readonly services: Services,
    private readonly pricing: PricingPlugins,
  ) {}

  /**
   * Opens the store, starts the dev mint, the pool and the plugins, then listens. If any step
   * fails, whatever already started is closed again before the error is thrown (no open store,
   * mint or timer is left behind).
   */
  static async start(config: GatewayConfig, opts: GatewayOptions): Promise<Gateway> {
    const log = opts.log ?? createLogger(config.log.level, config.log.format);
    const undo: (() => Promise<void> | void)[] = [];
    try {
      const db = opts.db ?? (await openDb(config.store.url));
      if (!opts.db) undo.push(() => db.close());
      // The whole schema forward, in one transaction, before anything reads it (replicas: one at a time).
      const applied = await migrate(db, allMigrations(opts.catalogue));
      if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.owner}#${m.version}`) }, 'store schema migrated');
      const pool = new BackendPool({ intervalMs: config.health.intervalSeconds * 1000, timeoutMs: config.health.timeoutMs, log });
      for (const b of config.backends) pool.add({ ...b, source: 'config' });
      undo.push(() => pool.stop());
      const closers: (() => Promise<void>)[] = [];
      if (config.devMint.enabled) {
        // Before the plugins: the wallet's start-up recovery may need to reach it.
        const { createDevMint } = await import('./devmint/index.js');
        const mint = await createDevMint({ db, inputFeePpk: config.devMint.inputFeePpk, log: (m) => log.warn(m) });
        undo.push(() => mint.close());
        const url = await mint.listen(config.devMint.port, config.devMint.host);
        log.warn({ url }, 'development mint running: its sats are NOT real money (fake Lightning)');
        closers.push(() => mint.close());
      }
      const metrics = opts.metrics ?? new GatewayMetrics();
      // The trusted mints are watched when an enabled plugin takes payments at them.
      const enabled = resolvePlugins(opts.catalogue, config);
      const pricing: PricingPlugins = {
        paid: enabled.some((m) => m.provides?.includes(TrustedMintsKey)),
        rateMoves: enabled.some((m) => m.provides?.includes(RateViewKey)),
      };
      const mintMonitor = pricing.paid && config.payment.mints.length > 0
        ? new MintMonitor({
            mints: config.payment.mints,
            intervalMs: config.payment.mintCheckSeconds * 1000,
            timeoutMs: config.health.timeoutMs,
            log,
            onCheck: (mint, up) => metrics.mintUp.set({ mint }, up ? 1 : 0),
          })
        : undefined;
      if (mintMonitor) undo.push(() => mintMonitor.stop());
      // Checked at once, in the background: a dead mint never stops start-up (it is logged and /readyz says so).
      const mintsChecked = mintMonitor?.checkAll();
      const services = new Services();
      const deps: PluginDeps = { config, db, log, pool, metrics, services, now: opts.now ?? Date.now, fetch: opts.fetch ?? fetch };
      const runner = new PluginRunner(await loadPlugins(opts.catalogue, deps), db, log);
      undo.push(() => runner.close());
      const queue = new AdmissionQueue(pool, config.queue, {
        depth: (n) => metrics.queueDepth.set(n),
        waited: (seconds, outcome) => metrics.queueWait.observe({ outcome }, seconds),
        refusedFull: () => metrics.queueRefusals.inc(),
      });
      pool.onChange(() => queue.pump());
      const gw = new Gateway(config, log, db, pool, queue, runner, new Forwarder(), metrics, services, pricing);
      undo.push(() => gw.forwarder.close());
      gw.closers.push(...closers);
      gw.ownsDb = !opts.db;
      gw.mints = mintMonitor;
      const accessSink = opts.accessLog ?? (config.log.access && config.log.level !== 'silent' ? logDestination(config.log.format) : undefined);
      gw.accessLog = accessSink ? new AccessLog(accessSink) : undefined;
      await Promise.all([pool.checkAll(), mintsChecked]);
      pool.start();
      mintMonitor?.start();
      gw.warnIfFixedRate();
      await gw.listen();
      return gw;
    } catch (err) {
      for (const fn of undo.reverse()) await Promise.resolve().then(fn).catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'));
      throw err;
    }
  }

  /** Registers cleanup that runs at shutdown, after the HTTP server closed (e.g. the dev mint). */
  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  /** The rate in force as a plugin that moves it (the oracle) shows it, when one runs. */
  private oracle(): RateView | undefined {
    return this.services.find(RateViewKey);
  }

  /** Loud, at start-up: real ecash priced from a number in the config. */
  private warnIfFixedRate(): void {
    const warning = fixedRateWarning(this.config, this.oracle()?.basis() ?? 'fixed_rate', this.pricing);
    if (!warning) return;
    const rule = '!'.repeat(72);
    for (const line of [rule, `PRICING AT A FIXED RATE — ${warning}`, rule]) this.log.warn(line);
  }

  /** What GET /readyz answers. */
  readiness() {
    return readiness({ config: this.config, enabled: this.pricing, db: this.db, pool: this.pool, mints: this.mints, oracle: () => this.oracle() }).then((body) => {
      if (this.draining) {
        body.status = 'not_ready';
        body.reasons.push('the gateway is shutting down');
      }
      return body;
    });
  }

  private async listen(): Promise<void> {
    const listener = createListener({
      config: this.config,
      log: this.log,
      pool: this.pool,
      queue: this.queue,
      forwarder: this.forwarder,
      runner: this.runner,
      active: this.active,
      isDraining: () => this.draining,
      metrics: this.metrics,
      services: this.services,
      readiness: () => this.readiness(),
      accessLog: this.accessLog,
    });
    const { maxHeaderBytes, headersTimeoutMs, requestTimeoutMs, maxConnectionsPerIp } = this.config.server;
    const server = http.createServer(
      {
        maxHeaderSize: maxHeaderBytes,
        keepAliveTimeout: 5000,
        headersTimeout: headersTimeoutMs,
        requestTimeout: requestTimeoutMs,
        // Node enforces the two timeouts above only at this interval: keep it short so a client
        // dripping its headers is cut within headersTimeoutMs + 1 s.
        connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
      },
      listener,
    );
    for (const plugin of this.runner.plugins) plugin.upgrades?.(this.upgrades);
    server.on('upgrade', (req, socket, head) => this.upgrades.handle(req, socket, head));
    const perIp = new Map<string, number>();
    server.on('connection', (s: Socket) => {
      const ip = s.remoteAddress ?? '';
      if (maxConnectionsPerIp > 0) {
        const open = perIp.get(ip) ?? 0;
        if (open >= maxConnectionsPerIp) {
          s.destroy();
          return;
        }
        perIp.set(ip, open + 1);
        s.once('close', () => {
          const left = (perIp.get(ip) ?? 1) - 1;
          if (left > 0) perIp.set(ip, left);
          else perIp.delete(ip);
        });
      }
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.server.port, this.config.server.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
    this.log.info({ url: this.url }, 'owlrun gateway listening');
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Writes the access-log lines held back for their batched write (ACCESS_LOG_FLUSH_MS) now. */
  flushAccessLog(): void {
    this.accessLog?.flush();
  }

  /**
   * Graceful shutdown: stop accepting, let running jobs finish for up to graceMs, then cut the
   * rest (their clients' connections close, which settles them as client_gone), then close.
   */
  async shutdown(graceMs = this.config.server.shutdownGraceSeconds * 1000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeIdleConnections();
    if (this.active.size > 0) {
      this.log.info({ jobs: this.active.size, graceMs }, 'draining running jobs');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.active]),
        new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
    }
    await this.upgrades.drain();
    for (const s of this.sockets) s.destroy();
    await Promise.allSettled([...this.active]);
    await closed;
    this.pool.stop();
    await this.mints?.stop();
    this.forwarder.close();
    await this.runner.close();
    for (const fn of this.closers.reverse()) await fn();
    this.flushAccessLog();
    if (this.ownsDb) await this.db.close();
    this.log.info('owlrun gateway stopped');
  }
}
