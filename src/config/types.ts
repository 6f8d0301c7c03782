// The validated configuration (the shape configSpec produces, defaults filled in).

export type BackendKind = 'ollama' | 'vllm' | 'llamacpp' | 'openai';

export interface KeyEntry { id: string; key?: string; sha256?: string }
export interface Price { per_m_input_usd: number; per_m_output_usd: number }

export interface BackendConfig {
  id: string;
  kind: BackendKind;
  url: string;
  provider?: string;
  models: string[];
  maxConcurrent: number;
  apiKey?: string;
  /** Bill this backend's reported usage as it stands (false: clamp it to the gateway's own count). */
  trustUsage: boolean;
}

export interface BroadcastConfig { id: string; message: string; level: 'info' | 'warning' | 'critical'; starts_at?: string; ends_at?: string }

export interface GatewayConfig {
  server: { host: string; port: number; bodyLimit: number; maxHeaderBytes: number; shutdownGraceSeconds: number; headersTimeoutMs: number; requestTimeoutMs: number; maxConnectionsPerIp: number };
  auth: { required: boolean; apiKeys: KeyEntry[] };
  backends: BackendConfig[];
  queue: { maxWaitMs: number; maxLength: number };
  health: { intervalSeconds: number; timeoutMs: number };
  admin: { key?: string; sha256?: string };
  providers: KeyEntry[];
  nodeTtlSeconds: number;
  marketplace: {
    enabled: boolean;
    openRegistration: boolean;
    maxConcurrent: number;
    acceptTimeoutMs: number;
    firstChunkTimeoutMs: number;
    chunkGapTimeoutMs: number;
    jobTimeoutMs: number;
    pingIntervalSeconds: number;
  };
  nodes: { allowPrivateAddresses: boolean };
  payment: { mints: string[]; minSatsPerJob: number; receiptTtl: number; mintCheckSeconds: number };
  pricing: { margins: { inference: number; fx: number }; models: Record<string, Price>; default: Price };
  oracle: {
    sources: { name: string; url: string; path: string; headers: Record<string, string> }[];
    fixedRate: number;
    intervalSeconds: number;
    timeoutMs: number;
  };
  store: { url: string };
  devMint: { enabled: boolean; host: string; port: number; inputFeePpk: number };
  broadcasts: BroadcastConfig[];
  metrics: { key?: string };
  log: { level: string; format: 'auto' | 'json' | 'pretty'; access: boolean };
  plugins: string[];
}
