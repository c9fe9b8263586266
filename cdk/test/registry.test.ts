import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { buildBookstore } from '../lib/bookstore';
import { readConfig } from '../lib/config';
import { RegistryStack } from '../lib/registry-stack';
import { cdkJsonContext, tempDir, testApp } from './helpers';

/**
 * The registry stack alone (it depends on nothing else), as `-c bookstore:codeArtifact=true` adds it,
 * with the same cdk-nag packs as the app (a finding throws in synth).
 */
function registry(context: Record<string, unknown> = {}): Template {
  const app = new App({ outdir: tempDir('registry-cdk-out-'), context: { ...cdkJsonContext(), ...context } });
  new RegistryStack(app, 'Bookstore-Registry', { config: readConfig(app.node) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return Template.fromJSON(app.synth().getStackByName('Bookstore-Registry').template);
}

test('is only part of the app with -c bookstore:codeArtifact=true', () => {
  expect(buildBookstore(testApp()).registry).toBeUndefined();
  const withRegistry = buildBookstore(testApp({ 'bookstore:codeArtifact': true }));
  expect(withRegistry.registry?.stackName).toBe('Bookstore-Registry');
});

test('creates a CodeArtifact domain and a crates repository without upstreams, and outputs the sparse index URL', () => {
  const t = registry();
  t.hasResourceProperties('AWS::CodeArtifact::Domain', { DomainName: 'bookstore' });
  const [repo] = Object.values<any>(t.findResources('AWS::CodeArtifact::Repository'));
  expect(repo.Properties).toMatchObject({ RepositoryName: 'crates' });
  expect(repo.Properties.Upstreams).toBeUndefined();
  expect(repo.Properties.ExternalConnections).toBeUndefined();
  const url = JSON.stringify(t.toJSON().Outputs.CargoIndexUrl.Value);
  expect(url).toContain('sparse+https://bookstore-');
  expect(url).toContain('.d.codeartifact.');
  expect(url).toContain('.amazonaws.com/cargo/crates/');
});

test('readers may fetch a token and read; publishers may also publish crates of this repository only', () => {
  const t = registry();
  const policies = Object.fromEntries(
    Object.entries<any>(t.findResources('AWS::IAM::ManagedPolicy')).map(([id, p]) => [id.startsWith('Read') ? 'read' : 'publish', p.Properties.PolicyDocument.Statement]),
  );
  const actions = (statements: any[]) => statements.flatMap((s) => [s.Action].flat()).sort();
  expect(actions(policies.read)).toEqual([
    'codeartifact:GetAuthorizationToken',
    'codeartifact:GetRepositoryEndpoint',
    'codeartifact:ReadFromRepository',
    'sts:GetServiceBearerToken',
  ]);
  expect(actions(policies.publish)).toEqual(
    [...actions(policies.read), 'codeartifact:PublishPackageVersion', 'codeartifact:PutPackageMetadata'].sort(),
  );
  const bearer = policies.read.find((s: any) => s.Action === 'sts:GetServiceBearerToken');
  expect(bearer.Condition).toEqual({ StringEquals: { 'sts:AWSServiceName': 'codeartifact.amazonaws.com' } });
  const publish = policies.publish.find((s: any) => s.Sid === 'PublishCrates');
  expect(JSON.stringify(publish.Resource)).toContain(':package/bookstore/crates/cargo//*');
});

test('other accounts read only when listed, through the domain and repository policies', () => {
  expect(Object.values<any>(registry().findResources('AWS::CodeArtifact::Repository'))[0].Properties.PermissionsPolicyDocument).toBeUndefined();
  const t = registry({ 'bookstore:codeArtifactReadAccounts': '111122223333,444455556666' });
  const [domain] = Object.values<any>(t.findResources('AWS::CodeArtifact::Domain'));
  const [repo] = Object.values<any>(t.findResources('AWS::CodeArtifact::Repository'));
  const principals = (doc: any) => JSON.stringify(doc.Statement[0].Principal);
  for (const doc of [domain.Properties.PermissionsPolicyDocument, repo.Properties.PermissionsPolicyDocument]) {
    expect(principals(doc)).toContain(':111122223333:root');
    expect(principals(doc)).toContain(':444455556666:root');
  }
  expect(domain.Properties.PermissionsPolicyDocument.Statement[0].Action).toBe('codeartifact:GetAuthorizationToken');
  expect(repo.Properties.PermissionsPolicyDocument.Statement[0].Action).not.toContain('codeartifact:PublishPackageVersion');
});
