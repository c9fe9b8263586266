/**
 * Deploy-time settings, read once from CDK context (`cdk.json`, or `-c key=value`).
 *
 * | context key | meaning | default |
 * |---|---|---|
 * | `bookstore:stackPrefix` | prefix of the three stack names (one prefix per environment) | `Bookstore` |
 * | `bookstore:apiStageName` | API Gateway stage, the first segment of every real path | `prod` |
 * | `bookstore:auroraMinAcu` / `bookstore:auroraMaxAcu` | Serverless v2 capacity range | `0.5` / `4` |
 * | `bookstore:auroraReaders` | reader instances (failover targets, scale with the writer) | `1` |
 * | `bookstore:vpcCidr` | VPC address range | `10.40.0.0/16` |
 * | `bookstore:sslRootCert` | `DB_SSLROOTCERT` of books/reviews (proxy certs chain to Amazon's public roots) | `/etc/pki/tls/certs/ca-bundle.crt` |
 * | `bookstore:schemaSslRootCert` | `DB_SSLROOTCERT` of schema-lambda (it talks to the writer, whose cert is from the RDS CA) | same as above |
 * | `bookstore:schemaRunId` | any string; when it changes, the migrate trigger runs again (e.g. the git commit) | unset |
 * | `bookstore:lambdaArtifactDir` | where the `<name>/bootstrap.zip` artifacts are | `<repo>/target/lambda` |
 * | `bookstore:placeholderArtifactDir` | tests/CI only: a directory with a placeholder `bootstrap` used for every function | unset |
 */
import type { Node } from 'constructs';

/** The database the functions and the migrator use. */
export const DB_NAME = 'bookstore';
/** The least-privilege login role schema-lambda creates (DML only, `rds_iam`). */
export const APP_DB_ROLE = 'bookstore_app';
/** PostgreSQL's port; the Rust config and the security groups agree on it. */
export const DB_PORT = 5432;
/** Master user of the cluster; its generated secret is only read by schema-lambda and the rotation function. */
export const MASTER_USERNAME = 'bookstore_admin';

/** Settings shared by the three stacks. */
export interface BookstoreConfig {
  readonly stackPrefix: string;
  readonly apiStageName: string;
  readonly auroraMinAcu: number;
  readonly auroraMaxAcu: number;
  readonly auroraReaders: number;
  readonly vpcCidr: string;
  readonly sslRootCert: string;
  readonly schemaSslRootCert: string;
  readonly schemaRunId?: string;
}

/** Reads the `bookstore:*` context keys; throws naming the key when one is malformed. */
export function readConfig(node: Node): BookstoreConfig {
  const str = (key: string, fallback?: string): string | undefined => {
    const v = node.tryGetContext(`bookstore:${key}`);
    if (v === undefined || v === null || v === '') return fallback;
    return String(v);
  };
  const num = (key: string, fallback: number): number => {
    const raw = str(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) {
      throw new Error(`context bookstore:${key} must be a non-negative number, got '${raw}'`);
    }
    return n;
  };

  const sslRootCert = str('sslRootCert', '/etc/pki/tls/certs/ca-bundle.crt')!;
  const cfg: BookstoreConfig = {
    stackPrefix: str('stackPrefix', 'Bookstore')!,
    apiStageName: str('apiStageName', 'prod')!,
    auroraMinAcu: num('auroraMinAcu', 0.5),
    auroraMaxAcu: num('auroraMaxAcu', 4),
    auroraReaders: num('auroraReaders', 1),
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
  if (!Number.isInteger(cfg.auroraReaders)) {
    throw new Error('context bookstore:auroraReaders must be a whole number');
  }
  return cfg;
}
