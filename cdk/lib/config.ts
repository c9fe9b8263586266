/**
 * Deploy-time settings, read once from CDK context (`cdk.json`, or `-c key=value`).
 *
 * | context key | meaning | default |
 * |---|---|---|
 * | `bookstore:engine` | the database engine: `postgres` (Aurora PostgreSQL) or `mysql` (Aurora MySQL 3, MySQL 8.0 compatible); decides the cluster, its port, the proxy's engine family, the functions' `DB_*` environment and the default artifact directory | `postgres` |
 * | `bookstore:stackPrefix` | prefix of the stack names and of every export name (one prefix per environment) | `Bookstore` |
 * | `bookstore:apiStageName` | API Gateway stage, the first segment of every real path | `prod` |
 * | `bookstore:production` | production rules apply (backup retention >= 14 days) | `true` |
 * | `bookstore:auroraMinAcu` / `bookstore:auroraMaxAcu` | Serverless v2 capacity range | `0.5` / `4` |
 * | `bookstore:auroraReaders` | reader instances (failover targets, scale with the writer) | `1` |
 * | `bookstore:maxConnections` | the writer's `max_connections` at max ACU, if measured (`SHOW max_connections`, `SELECT @@max_connections`) | estimated: PostgreSQL 189 per max ACU, at most 5000; MySQL AWS's table (135 at 4 ACU) |
 * | `bookstore:proxyMaxConnectionsPercent` | share of `max_connections` RDS Proxy may open | `80` |
 * | `bookstore:proxyMaxIdleConnectionsPercent` | share the proxy keeps open while idle | `10` |
 * | `bookstore:proxyBorrowTimeoutSecs` | how long a client waits for a database connection | `5` |
 * | `bookstore:proxyIdleClientTimeoutSecs` | when the proxy drops an idle client (a frozen container's pinned session) | `300` |
 * | `bookstore:booksConcurrency` / `bookstore:reviewsConcurrency` | reserved concurrency of books / reviews | `20` / `20` |
 * | `bookstore:outsideFunctionsConcurrency` | connections set aside for functions other repositories deploy | `20` |
 * | `bookstore:backupRetentionDays` | Aurora point-in-time backup retention (1-35; >= 14 in production) | `14` |
 * | `bookstore:backupCopyVaultArn` | AWS Backup vault (another region or account) the daily backup is copied to | a second vault in this stack |
 * | `bookstore:canary` | CodeDeploy config for books/reviews: `canary` (10% for 5 min) or `all-at-once` | `canary` |
 * | `bookstore:wafRateLimit` | requests per 5 minutes per IP before WAF blocks | `1000` |
 * | `bookstore:wafWriteRateLimit` | POST/PUT/PATCH/DELETE requests per 5 minutes per IP before WAF blocks | `200` |
 * | `bookstore:corsAllowedOrigins` | comma-separated origins browsers may call the API from (`https://shop.example.com`), or `*`: the functions' `CORS_ALLOWED_ORIGINS`, and OPTIONS routed to them | none: CORS off |
 * | `bookstore:alarmEmail` | an address subscribed to the alarm topic | none |
 * | `bookstore:codeArtifact` | also create the `<prefix>-Registry` stack (CodeArtifact domain and cargo repository) | `false` |
 * | `bookstore:codeArtifactReadAccounts` | comma-separated account ids that may read the crates | none (this account only) |
 * | `bookstore:vpcCidr` | VPC address range | `10.40.0.0/16` |
 * | `bookstore:sslRootCert` | `DB_SSLROOTCERT` of books/reviews (proxy certs chain to Amazon's public roots) | `/etc/pki/tls/certs/ca-bundle.crt` |
 * | `bookstore:schemaSslRootCert` | `DB_SSLROOTCERT` of schema-lambda (it talks to the writer, whose cert is from the RDS CA) | same as above |
 * | `bookstore:schemaRunId` | any string; when it changes, the migrate trigger runs again (e.g. the git commit) | unset |
 * | `bookstore:lambdaArtifactDir` | where the `<name>/bootstrap.zip` artifacts are | `<repo>/target/lambda`; with `engine=mysql` `<repo>/target/lambda-mysql` |
 * | `bookstore:placeholderArtifactDir` | tests/CI only: a directory with a placeholder `bootstrap` used for every function | unset |
 */
import type { Node } from 'constructs';

/** The database the functions and the migrator use. */
export const DB_NAME = 'bookstore';
/**
 * The least-privilege login role schema-lambda creates (DML only; on PostgreSQL granted `rds_iam`, on MySQL a
 * user that logs in with IAM tokens).
 */
export const APP_DB_ROLE = 'bookstore_app';

/** The database engines the app can deploy (context `bookstore:engine`). */
export const DB_ENGINES = ['postgres', 'mysql'] as const;
export type DatabaseEngine = (typeof DB_ENGINES)[number];
/** The engine when `bookstore:engine` is unset: what every template before the MySQL variant was. */
export const DEFAULT_DB_ENGINE: DatabaseEngine = 'postgres';

/**
 * Each engine's standard port: the cluster listens on it, the security groups open it, and RDS Proxy always
 * listens on it (a proxy's port cannot be chosen), so the functions' `DB_PORT` is the same number.
 */
export const DB_PORTS: Readonly<Record<DatabaseEngine, number>> = { postgres: 5432, mysql: 3306 };

/** The port of `engine` (see `DB_PORTS`). */
export function dbPort(engine: DatabaseEngine): number {
  return DB_PORTS[engine];
}

/** Master user of the cluster; its generated secret is only read by schema-lambda and the rotation function. */
export const MASTER_USERNAME = 'bookstore_admin';

/**
 * `max_connections` of Aurora PostgreSQL Serverless v2 per ACU of the *maximum* capacity: 189 at max 1 ACU
 * (re:Post "Working of max_connections for Aurora PostgreSQL Serverless"); scaling it linearly from there
 * is conservative (the memory the engine reserves does not grow with the instance). 5000 is the cap.
 */
export const MAX_CONNECTIONS_PER_MAX_ACU = 189;
export const MAX_CONNECTIONS_CAP = 5000;
/**
 * Aurora MySQL Serverless v2's default `max_connections` by maximum ACU, as AWS documents it ("Maximum
 * connections for Aurora Serverless v2" in the Aurora user guide): [max ACU, max_connections]. MySQL's formula
 * grows with the logarithm of memory, so it is far below PostgreSQL's at small sizes (135 against 823 at 4 ACU)
 * and a per-ACU line would overestimate it; between two rows the lower one applies.
 */
export const MYSQL_MAX_CONNECTIONS_BY_MAX_ACU: readonly (readonly [number, number])[] = [
  [1, 90],
  [4, 135],
  [8, 1000],
  [16, 2000],
  [32, 3000],
  [64, 4000],
  [128, 5000],
];
/**
 * Sessions that bypass the proxy: schema-lambda (reserved concurrency 1), the rotation function and one
 * operator's psql (or mysql client). They live in the share the proxy leaves free.
 */
export const DIRECT_CLIENTS = 3;
/** Headroom RDS Proxy's guidance asks for over the expected peak: the functions may use 70% of its pool. */
export const PROXY_POOL_USABLE_FRACTION = 0.7;

/** How the books/reviews deploy shifts traffic to a new version. */
export type CanaryMode = 'canary' | 'all-at-once';

/** Settings shared by the stacks. */
export interface BookstoreConfig {
  /** `bookstore:engine`: Aurora PostgreSQL or Aurora MySQL. */
  readonly engine: DatabaseEngine;
  readonly stackPrefix: string;
  readonly apiStageName: string;
  readonly production: boolean;
  readonly auroraMinAcu: number;
  readonly auroraMaxAcu: number;
  readonly auroraReaders: number;
  /** `bookstore:maxConnections`, when measured; otherwise the budget estimates it from max ACU. */
  readonly measuredMaxConnections?: number;
  readonly proxy: ProxyPoolConfig;
  readonly concurrency: { readonly books: number; readonly reviews: number; readonly outsideFunctions: number };
  readonly backupRetentionDays: number;
  readonly backupCopyVaultArn?: string;
  readonly canary: CanaryMode;
  readonly wafRateLimit: number;
  readonly wafWriteRateLimit: number;
  /** Origins allowed to call the API from a browser; empty: CORS off. */
  readonly corsAllowedOrigins: readonly string[];
  readonly alarmEmail?: string;
  readonly codeArtifact: boolean;
  readonly codeArtifactReadAccounts: readonly string[];
  readonly vpcCidr: string;
  readonly sslRootCert: string;
  readonly schemaSslRootCert: string;
  readonly schemaRunId?: string;
}

/** RDS Proxy's pool settings. */
export interface ProxyPoolConfig {
  readonly maxConnectionsPercent: number;
  readonly maxIdleConnectionsPercent: number;
  readonly borrowTimeoutSecs: number;
  readonly idleClientTimeoutSecs: number;
}

/** The connection budget at the configured max ACU, as the synth-time check computes it. */
export interface ConnectionBudget {
  /** The writer's `max_connections` at max ACU. */
  readonly maxConnections: number;
  /** What the proxy may open: `maxConnectionsPercent` of it. */
  readonly proxyConnections: number;
  /** What the functions' reserved concurrency may add up to: 70% of the proxy's share. */
  readonly functionConnections: number;
  /** Reserved concurrency of books + reviews + the outside functions' allowance (pool size 1: one connection each). */
  readonly reserved: number;
  /** What is left outside the proxy's share for direct sessions. */
  readonly directConnections: number;
}

/** The writer's `max_connections` at `maxAcu` on `engine` (the measured value wins when given). */
export function maxConnectionsAt(engine: DatabaseEngine, maxAcu: number, measured?: number): number {
  if (measured !== undefined) return measured;
  if (engine === 'mysql') {
    // maxAcu >= 1 (readConfig's bound), so the first row always applies.
    const [, atOrBelow] = MYSQL_MAX_CONNECTIONS_BY_MAX_ACU.filter(([acu]) => acu <= maxAcu).pop()!;
    return atOrBelow;
  }
  return Math.min(MAX_CONNECTIONS_CAP, Math.floor(MAX_CONNECTIONS_PER_MAX_ACU * maxAcu));
}

/**
 * The connection budget. It assumes every proxy session is pinned (on MySQL they are: diesel runs every query
 * as a server-side prepared statement), so each warm container holds one database connection: reserved
 * concurrency is the bound that matters.
 */
export function connectionBudget(cfg: BookstoreConfig): ConnectionBudget {
  const maxConnections = maxConnectionsAt(cfg.engine, cfg.auroraMaxAcu, cfg.measuredMaxConnections);
  const proxyConnections = Math.floor((maxConnections * cfg.proxy.maxConnectionsPercent) / 100);
  return {
    maxConnections,
    proxyConnections,
    functionConnections: Math.floor(proxyConnections * PROXY_POOL_USABLE_FRACTION),
    reserved: cfg.concurrency.books + cfg.concurrency.reviews + cfg.concurrency.outsideFunctions,
    directConnections: maxConnections - proxyConnections,
  };
}

/** Throws, naming every number, when the functions or the direct clients do not fit. */
export function checkConnectionBudget(cfg: BookstoreConfig): ConnectionBudget {
  const b = connectionBudget(cfg);
  const where =
    `max_connections ${b.maxConnections} at bookstore:auroraMaxAcu=${cfg.auroraMaxAcu}` +
    (cfg.measuredMaxConnections === undefined ? ' (estimated; measure and set bookstore:maxConnections)' : '');
  if (b.reserved > b.functionConnections) {
    throw new Error(
      `connection budget exceeded: reserved concurrency books ${cfg.concurrency.books} + reviews ` +
        `${cfg.concurrency.reviews} + outside functions ${cfg.concurrency.outsideFunctions} = ${b.reserved} > ` +
        `${b.functionConnections} (${PROXY_POOL_USABLE_FRACTION * 100}% of the proxy's ` +
        `${cfg.proxy.maxConnectionsPercent}% = ${b.proxyConnections} of ${where}). Lower the concurrency ` +
        'keys or raise bookstore:auroraMaxAcu.',
    );
  }
  if (b.directConnections < DIRECT_CLIENTS) {
    throw new Error(
      `connection budget exceeded: the proxy may take ${cfg.proxy.maxConnectionsPercent}% = ${b.proxyConnections} ` +
        `of ${where}, leaving ${b.directConnections} < ${DIRECT_CLIENTS} for schema-lambda, the rotation function ` +
        'and an operator. Lower bookstore:proxyMaxConnectionsPercent.',
    );
  }
  return b;
}

/** Reads `bookstore:engine` (the artifacts need it before the rest of the configuration); throws naming the key. */
export function readEngine(node: Node): DatabaseEngine {
  const raw = node.tryGetContext('bookstore:engine');
  if (raw === undefined || raw === null || raw === '') return DEFAULT_DB_ENGINE;
  const engine = String(raw);
  if (!(DB_ENGINES as readonly string[]).includes(engine)) {
    throw new Error(`context bookstore:engine must be ${DB_ENGINES.map((e) => `'${e}'`).join(' or ')}, got '${engine}'`);
  }
  return engine as DatabaseEngine;
}

/** Reads the `bookstore:*` context keys; throws naming the key when one is malformed or the budget does not fit. */
export function readConfig(node: Node): BookstoreConfig {
  const str = (key: string, fallback?: string): string | undefined => {
    const v = node.tryGetContext(`bookstore:${key}`);
    if (v === undefined || v === null || v === '') return fallback;
    return String(v);
  };
  const num = (key: string, fallback: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number => {
    const raw = str(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    const { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = opts;
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      const kind = integer ? 'a whole number' : 'a number';
      throw new Error(`context bookstore:${key} must be ${kind} from ${min} to ${max}, got '${raw}'`);
    }
    return n;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const raw = str(key);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new Error(`context bookstore:${key} must be true or false, got '${raw}'`);
  };
  const int = (key: string, fallback: number, min: number, max: number) => num(key, fallback, { min, max, integer: true });

  const sslRootCert = str('sslRootCert', '/etc/pki/tls/certs/ca-bundle.crt')!;
  const canary = str('canary', 'canary')!;
  if (canary !== 'canary' && canary !== 'all-at-once') {
    throw new Error(`context bookstore:canary must be 'canary' or 'all-at-once', got '${canary}'`);
  }
  const readAccounts = (str('codeArtifactReadAccounts', '') ?? '').split(',').map((a) => a.trim()).filter((a) => a);
  for (const account of readAccounts) {
    if (!/^\d{12}$/.test(account)) {
      throw new Error(`context bookstore:codeArtifactReadAccounts must be 12-digit account ids, got '${account}'`);
    }
  }
  const corsAllowedOrigins = (str('corsAllowedOrigins', '') ?? '').split(',').map((o) => o.trim()).filter((o) => o);
  for (const origin of corsAllowedOrigins) {
    // The same rule as bookstore_kit::cors: a browser's Origin is scheme://host[:port], nothing more.
    if (origin !== '*' && !/^https?:\/\/[A-Za-z0-9.\-:[\]]+$/.test(origin)) {
      throw new Error(`context bookstore:corsAllowedOrigins must be origins like https://shop.example.com (no path), got '${origin}'`);
    }
  }
  if (corsAllowedOrigins.includes('*') && corsAllowedOrigins.length > 1) {
    throw new Error("context bookstore:corsAllowedOrigins: '*' allows every origin and cannot be combined with others");
  }
  const cfg: BookstoreConfig = {
    engine: readEngine(node),
    stackPrefix: str('stackPrefix', 'Bookstore')!,
    apiStageName: str('apiStageName', 'prod')!,
    production: bool('production', true),
    auroraMinAcu: num('auroraMinAcu', 0.5),
    auroraMaxAcu: num('auroraMaxAcu', 4, { min: 1, max: 256 }),
    auroraReaders: int('auroraReaders', 1, 0, 15),
    measuredMaxConnections: str('maxConnections') === undefined ? undefined : int('maxConnections', 0, 1, 262143),
    proxy: {
      maxConnectionsPercent: int('proxyMaxConnectionsPercent', 80, 1, 100),
      maxIdleConnectionsPercent: int('proxyMaxIdleConnectionsPercent', 10, 0, 100),
      borrowTimeoutSecs: int('proxyBorrowTimeoutSecs', 5, 1, 3600),
      idleClientTimeoutSecs: int('proxyIdleClientTimeoutSecs', 300, 1, 28800),
    },
    concurrency: {
      books: int('booksConcurrency', 20, 1, 10000),
      reviews: int('reviewsConcurrency', 20, 1, 10000),
      outsideFunctions: int('outsideFunctionsConcurrency', 20, 0, 10000),
    },
    backupRetentionDays: int('backupRetentionDays', 14, 1, 35),
    backupCopyVaultArn: str('backupCopyVaultArn'),
    canary,
    wafRateLimit: int('wafRateLimit', 1000, 10, 2000000000),
    wafWriteRateLimit: int('wafWriteRateLimit', 200, 10, 2000000000),
    corsAllowedOrigins,
    alarmEmail: str('alarmEmail'),
    codeArtifact: bool('codeArtifact', false),
    codeArtifactReadAccounts: readAccounts,
    vpcCidr: str('vpcCidr', '10.40.0.0/16')!,
    sslRootCert,
    schemaSslRootCert: str('schemaSslRootCert', sslRootCert)!,
    schemaRunId: str('schemaRunId'),
  };
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(cfg.stackPrefix)) {
    throw new Error(`context bookstore:stackPrefix must be letters, digits and '-', got '${cfg.stackPrefix}'`);
  }
  if (!/^[A-Za-z0-9_]+$/.test(cfg.apiStageName)) {
    throw new Error(`context bookstore:apiStageName must be letters, digits and '_', got '${cfg.apiStageName}'`);
  }
  if (cfg.auroraMinAcu > cfg.auroraMaxAcu) {
    throw new Error('context bookstore:auroraMinAcu must not exceed bookstore:auroraMaxAcu');
  }
  if (cfg.proxy.maxIdleConnectionsPercent > cfg.proxy.maxConnectionsPercent) {
    throw new Error('context bookstore:proxyMaxIdleConnectionsPercent must not exceed bookstore:proxyMaxConnectionsPercent');
  }
  if (cfg.production && cfg.backupRetentionDays < 14) {
    throw new Error(
      `context bookstore:backupRetentionDays must be at least 14 in production, got ${cfg.backupRetentionDays} ` +
        '(set bookstore:production=false for a test environment)',
    );
  }
  if (cfg.backupCopyVaultArn !== undefined && !/^arn:aws[a-z-]*:backup:/.test(cfg.backupCopyVaultArn)) {
    throw new Error(`context bookstore:backupCopyVaultArn must be an AWS Backup vault ARN, got '${cfg.backupCopyVaultArn}'`);
  }
  checkConnectionBudget(cfg);
  return cfg;
}
