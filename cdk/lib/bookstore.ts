import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { AppStack } from './app-stack';
import { resolveArtifacts } from './artifacts';
import { readConfig } from './config';
import { DatabaseStack, engineSettings } from './database-stack';
import { NetworkStack } from './network-stack';
import { RegistryStack } from './registry-stack';

/** The stacks of one environment. */
export interface Bookstore {
  readonly network: NetworkStack;
  readonly database: DatabaseStack;
  readonly app: AppStack;
  /** Only with `-c bookstore:codeArtifact=true`. */
  readonly registry?: RegistryStack;
}

/**
 * Builds the bookstore into `app`: NetworkStack → DatabaseStack → AppStack (and the optional
 * RegistryStack), with cdk-nag's AwsSolutions and Serverless checks as policy-validation plugins (an
 * unacknowledged finding fails synth).
 *
 * The stacks carry no `env`: they synthesise offline, and the account/region come from the
 * credentials `cdk deploy` runs with. Network and database have termination protection; every
 * cross-stack value is a CloudFormation export (strong references: an export in use cannot change or go).
 */
export function buildBookstore(app: App): Bookstore {
  const config = readConfig(app.node);
  const artifacts = resolveArtifacts(app.node);
  const prefix = config.stackPrefix;

  const network = new NetworkStack(app, `${prefix}-Network`, {
    description: 'Bookstore network: isolated VPC and Secrets Manager endpoint (owner: database team)',
    vpcCidr: config.vpcCidr,
    exportPrefix: prefix,
    terminationProtection: true,
  });
  const database = new DatabaseStack(app, `${prefix}-Database`, {
    description:
      `Bookstore database: Aurora ${engineSettings(config.engine).displayName}, RDS Proxy, secrets, schema-lambda, backups, ` +
      'alarms (owner: database team)',
    config,
    vpc: network.vpc,
    secretsManagerEndpoint: network.secretsManagerEndpoint,
    schemaCode: artifacts.code('schema-lambda'),
    terminationProtection: true,
  });
  const bookstoreApp = new AppStack(app, `${prefix}-App`, {
    description: 'Bookstore API: books and reviews functions, REST API, WAF, dashboard (owner: app team)',
    config,
    migrateTrigger: database.migrateTrigger,
    code: (name) => artifacts.code(name),
  });
  // The app stack imports the network and database exports by name, which CDK cannot see.
  bookstoreApp.addStackDependency(network, 'imports the network exports');
  bookstoreApp.addStackDependency(database, 'imports the database exports and waits for the migrate trigger');

  const registry = config.codeArtifact
    ? new RegistryStack(app, `${prefix}-Registry`, {
        description: 'Private Cargo registry for the bookstore crates (AWS CodeArtifact)',
        config,
      })
    : undefined;

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { network, database, app: bookstoreApp, registry };
}
