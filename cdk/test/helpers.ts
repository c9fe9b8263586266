import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { writePlaceholderArtifacts } from '../lib/artifacts';
import { type Bookstore, buildBookstore } from '../lib/bookstore';

/** `cdk.json`'s context (feature flags and bookstore defaults): a test App must see what `cdk synth` sees. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'));
  return cdkJson.context;
}

const tempDirs: string[] = [];
// Registered at import time, so it runs after all the tests of the file that imports this module.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the importing test file's tests. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A test App as the CLI would build it: cdk.json context, a placeholder artifact directory, a throwaway outdir. */
export function testApp(extraContext: Record<string, unknown> = {}): App {
  const placeholder = writePlaceholderArtifacts(tempDir('bookstore-placeholder-'));
  return new App({
    outdir: tempDir('bookstore-cdk-out-'),
    context: {
      ...cdkJsonContext(),
      // What the CLI sets from cdk.json's top-level keys; tests find resources by their construct path.
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:version-reporting': false,
      'bookstore:placeholderArtifactDir': placeholder,
      ...extraContext,
    },
  });
}

/** The synthesised bookstore: stacks, assembly and one `Template` per stack. */
export interface Synthesised {
  readonly app: App;
  readonly stacks: Bookstore;
  readonly assembly: CloudAssembly;
  readonly network: Template;
  readonly database: Template;
  readonly api: Template;
}

/** Builds and synthesises the whole app once (cdk-nag runs here: a finding throws). */
export function synthBookstore(extraContext: Record<string, unknown> = {}): Synthesised {
  const app = testApp(extraContext);
  const stacks = buildBookstore(app);
  const assembly = app.synth();
  const template = (name: string) => Template.fromJSON(assembly.getStackByName(name).template);
  return {
    app,
    stacks,
    assembly,
    network: template(stacks.network.stackName),
    database: template(stacks.database.stackName),
    api: template(stacks.app.stackName),
  };
}

/** The logical id of the only resource of `type` whose cdk path ends with `pathSuffix`. */
export function logicalIdByPath(template: Template, type: string, pathSuffix: string): string {
  const matches = Object.entries(template.findResources(type)).filter(([, r]) =>
    String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith(pathSuffix),
  );
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} at *${pathSuffix}, found ${matches.length}`);
  }
  return matches[0][0];
}

/** Every (stack-local) resource of `type`, as [logicalId, resource]. */
export function resourcesOf(template: Template, type: string): [string, any][] {
  return Object.entries(template.findResources(type));
}

/**
 * Every statement a role holds: its inline policies, then the AWS::IAM::Policy resources attached to it.
 * Fails if the role has managed policies (none of ours should).
 */
export function roleStatements(template: Template, roleLogicalId: string): any[] {
  const role = template.toJSON().Resources[roleLogicalId];
  expect(role?.Type).toBe('AWS::IAM::Role');
  expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  const inline = (role.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
  const attached = resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles ?? []).some((r: any) => r.Ref === roleLogicalId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  return [...inline, ...attached];
}

/** The one `Resource: *` statement a VPC function needs (its ENIs; see lib/rust-function.ts). */
export const ENI_STATEMENT = {
  Sid: 'LambdaHyperplaneEni',
  Effect: 'Allow',
  Action: [
    'ec2:AssignPrivateIpAddresses',
    'ec2:CreateNetworkInterface',
    'ec2:DeleteNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:UnassignPrivateIpAddresses',
  ],
  Resource: '*',
};

/** Active tracing's statement (X-Ray has no resource-level permissions). */
export const XRAY_STATEMENT = {
  Effect: 'Allow',
  Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
  Resource: '*',
};

/** Writing to the function's own log group, and no other. */
export function ownLogsStatement(logGroupLogicalId: string) {
  return {
    Sid: 'WriteOwnLogGroup',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: { 'Fn::GetAtt': [logGroupLogicalId, 'Arn'] },
  };
}

/** The stack and output that export `name`, searched in every stack of the assembly. */
export function findExport(assembly: CloudAssembly, name: string): { stackName: string; logicalId: string; value: any } {
  for (const stack of assembly.stacks) {
    for (const [logicalId, output] of Object.entries<any>(stack.template.Outputs ?? {})) {
      if (output.Export?.Name === name) return { stackName: stack.stackName, logicalId, value: output.Value };
    }
  }
  throw new Error(`no stack exports ${name}`);
}

/**
 * Follows a `Fn::ImportValue` (or a `Fn::Select` of a split import) to the value the producing stack
 * exports (one hop), so a test can say which resource a cross-stack reference really points at. Other
 * values come back unchanged.
 */
export function resolveCrossStack(s: Synthesised, value: any): any {
  const name = value?.['Fn::ImportValue'];
  if (name !== undefined) {
    if (typeof name !== 'string') throw new Error(`import of a computed name: ${JSON.stringify(name)}`);
    return findExport(s.assembly, name).value;
  }
  const select = value?.['Fn::Select'];
  if (select && select[1]?.['Fn::Split']) {
    const [index, [separator, source]] = [select[0], select[1]['Fn::Split']];
    const joined = resolveCrossStack(s, source)?.['Fn::Join'];
    if (joined && joined[0] === separator) return joined[1][Number(index)];
  }
  return value;
}

/** The construct path of a stack-local resource. */
export function pathOf(template: Template, logicalId: string): string {
  return String(template.toJSON().Resources[logicalId]?.Metadata?.['aws:cdk:path'] ?? '');
}
