import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildBookstore } from '../lib/bookstore';
import { type Synthesised, synthBookstore, testApp } from './helpers';

let s: Synthesised;
beforeAll(() => {
  // cdk-nag's AwsSolutions pack runs inside synth; an unacknowledged finding throws here.
  s = synthBookstore();
});

/**
 * Every cdk-nag acknowledgement in the app: construct path, rule id, reason. (aws-cdk-lib makes a few
 * `CloudFormation-Validate::` acknowledgements of its own inside ec2.Vpc; those are not ours.)
 */
function acknowledgements(synthesised: Synthesised = s) {
  return synthesised.app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id, reason }))
      .filter((ack) => !ack.id.startsWith('CloudFormation-Validate::')),
  );
}

test('the whole app passes cdk-nag AwsSolutions and Serverless (synth succeeded, no violation reported)', () => {
  expect(s.assembly.stacks.map((st) => st.stackName).sort()).toEqual(['Bookstore-App', 'Bookstore-Database', 'Bookstore-Network']);
});

test('every acknowledgement says why, in a sentence', () => {
  const acks = acknowledgements();
  expect(acks.length).toBeGreaterThan(0);
  const tooShort = acks.filter((ack) => typeof ack.reason !== 'string' || ack.reason.trim().length < 60);
  expect(tooShort).toEqual([]);
});

/** The acknowledgements of the PostgreSQL app (the default), as `path id`. */
const POSTGRES_ACKS = (): string[] =>
  [
    ...[
      'book/GET',
      'book/POST',
      'book/PUT',
      'book/{id}/GET',
      'book/{id}/PATCH',
      'book/{id}/DELETE',
      'book/{id}/reviews/GET',
      'review/GET',
      'review/POST',
      'review/PUT',
      'review/{id}/GET',
      'review/{id}/PATCH',
      'review/{id}/DELETE',
    ].flatMap((m) => [
      `Bookstore-App/Api/Default/${m} AwsSolutions::AwsSolutions-APIG4`,
      `Bookstore-App/Api/Default/${m} AwsSolutions::AwsSolutions-COG4`,
    ]),
    'Bookstore-App/Api AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    'Bookstore-App/BookstoreVpc Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
    ...['BooksFunction', 'ReviewsFunction'].flatMap((fn) => [
      `Bookstore-App/${fn}/Deployment ${CODEDEPLOY_IAM4}`,
      `Bookstore-App/${fn}/Fn/Function Serverless::Serverless-LambdaDLQ`,
      `Bookstore-App/${fn}/Fn/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]`,
      `Bookstore-App/${fn}/Fn/Role Serverless::Serverless-LambdaStarPermissions`,
    ]),
    ...['App', 'Database', 'Network'].flatMap((stack) => [
      `Bookstore-${stack}/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a ${LOG_RETENTION_IAM4}`,
      `Bookstore-${stack}/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a AwsSolutions::AwsSolutions-IAM5[Resource::*]`,
    ]),
    'Bookstore-Database/BackupPlan/Cluster AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
    'Bookstore-Database/RotationFailedRule Serverless::Serverless-EventBusDLQ',
    'Bookstore-Database/SchemaFunction/Function Serverless::Serverless-LambdaDLQ',
    'Bookstore-Database/SchemaFunction/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'Bookstore-Database/SchemaFunction/Role Serverless::Serverless-LambdaStarPermissions',
  ];

test('acknowledges exactly the reviewed findings, each on the narrowest construct', () => {
  const acks = acknowledgements().map((a) => `${a.path} ${a.id}`).sort();
  expect(acks).toEqual(POSTGRES_ACKS().sort());
});

const CODEDEPLOY_IAM4 =
  'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]';
const LOG_RETENTION_IAM4 =
  'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

test('the Serverless pack is acknowledged only where it does not apply (synchronous functions, ENI/X-Ray "*", an alarm-only rule)', () => {
  const serverless = acknowledgements().filter((a) => a.id.startsWith('Serverless::'));
  expect([...new Set(serverless.map((a) => a.id))].sort()).toEqual([
    'Serverless::Serverless-EventBusDLQ',
    'Serverless::Serverless-LambdaDLQ',
    'Serverless::Serverless-LambdaStarPermissions',
  ]);
  for (const ack of serverless.filter((a) => a.id.endsWith('LambdaDLQ'))) {
    expect(ack.reason).toMatch(/^Not applicable: .*only invoked synchronously/);
  }
});

test("is really enforced: a finding of the Serverless pack fails synth too", () => {
  const app = testApp();
  const bookstore = buildBookstore(app);
  new lambda.Function(bookstore.app, 'Untraced', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => 1;'),
  });
  expect(() => app.synth()).toThrow(/Serverless-LambdaTracing/);
});

test('is really enforced: an unacknowledged finding fails synth', () => {
  const app = testApp();
  const bookstore = buildBookstore(app);
  const open = new ec2.SecurityGroup(bookstore.app, 'OpenToTheWorld', { vpc: bookstore.network.vpc });
  open.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(5432));
  expect(() => app.synth()).toThrow(/AwsSolutions-EC23/);
});

describe('the Aurora MySQL variant (bookstore:engine=mysql)', () => {
  let mysql: Synthesised;
  beforeAll(() => {
    mysql = synthBookstore({ 'bookstore:engine': 'mysql' });
  });

  test('passes cdk-nag AwsSolutions and Serverless too (synth succeeded, no violation reported)', () => {
    expect(mysql.assembly.stacks.map((st) => st.stackName).sort()).toEqual(['Bookstore-App', 'Bookstore-Database', 'Bookstore-Network']);
    mysql.database.hasResourceProperties('AWS::RDS::DBCluster', { Engine: 'aurora-mysql' });
  });

  test("acknowledges PostgreSQL's findings plus two Aurora MySQL rules on the cluster (default port, Backtrack), each with its reason", () => {
    const acks = acknowledgements(mysql);
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual(
      [
        ...POSTGRES_ACKS(),
        'Bookstore-Database/Cluster AwsSolutions::AwsSolutions-RDS11',
        'Bookstore-Database/Cluster AwsSolutions::AwsSolutions-RDS14',
      ].sort(),
    );
    const reason = (id: string) => acks.find((a) => a.id === `AwsSolutions::AwsSolutions-${id}`)!.reason;
    expect(reason('RDS11')).toMatch(/RDS Proxy.*always listens on the engine's standard port/);
    expect(reason('RDS14')).toMatch(/point-in-time restore/);
  });
});
