import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppStack } from './app-stack';
import { resolveArtifacts } from './artifacts';
import { readConfig } from './config';
import { DatabaseStack } from './database-stack';
import { NetworkStack } from './network-stack';

/** The three stacks of one environment. */
export interface Bookstore {
  readonly network: NetworkStack;
  readonly database: DatabaseStack;
  readonly app: AppStack;
}

/**
 * Builds the bookstore into `app`: NetworkStack → DatabaseStack → AppStack, with cdk-nag's AwsSolutions
 * checks as a policy-validation plugin (an unacknowledged finding fails synth).
 *
 * The stacks carry no `env`: they synthesise offline, and the account/region come from the
 * credentials `cdk deploy` runs with.
 */
export function buildBookstore(app: App): Bookstore {
  const config = readConfig(app.node);
  const artifacts = resolveArtifacts(app.node);
  const prefix = config.stackPrefix;

  const network = new NetworkStack(app, `${prefix}-Network`, {
    description: 'Bookstore network: isolated VPC and Secrets Manager endpoint (owner: database team)',
    vpcCidr: config.vpcCidr,
  });
  const database = new DatabaseStack(app, `${prefix}-Database`, {
    description: 'Bookstore database: Aurora PostgreSQL, RDS Proxy, secrets, schema-lambda (owner: database team)',
    config,
    vpc: network.vpc,
    secretsManagerEndpoint: network.secretsManagerEndpoint,
    schemaCode: artifacts.code('schema-lambda'),
  });
  const bookstoreApp = new AppStack(app, `${prefix}-App`, {
    description: 'Bookstore API: books and reviews functions, REST API (owner: app team)',
    config,
    vpc: network.vpc,
    database,
    code: (name) => artifacts.code(name),
  });

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { network, database, app: bookstoreApp };
}
