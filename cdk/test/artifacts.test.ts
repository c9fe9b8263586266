import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import {
  ARTIFACT_NAMES,
  artifactDir as lookedUpDir,
  BUILD_COMMAND,
  MissingArtifactsError,
  REPO_ROOT,
  resolveArtifacts,
  writePlaceholderArtifacts,
} from '../lib/artifacts';
import { buildBookstore } from '../lib/bookstore';
import { cdkJsonContext, logicalIdByPath, tempDir } from './helpers';
import { Template } from 'aws-cdk-lib/assertions';

const CDK_DIR = path.join(__dirname, '..');

/** An artifact directory with the given artifacts present (any bytes: CDK only copies them). */
function artifactDir(present: readonly string[]): string {
  const dir = tempDir('bookstore-artifacts-');
  for (const name of present) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    fs.writeFileSync(path.join(dir, name, 'bootstrap.zip'), `not really a zip: ${name}\n`);
  }
  return dir;
}

const appWith = (context: Record<string, unknown>) =>
  new App({ outdir: tempDir('bookstore-cdk-out-'), context: { ...cdkJsonContext(), ...context } });

test('without the Rust artifacts the app refuses, naming every missing file and the build command', () => {
  const dir = artifactDir([]);
  const app = appWith({ 'bookstore:lambdaArtifactDir': dir });
  let error: unknown;
  try {
    buildBookstore(app);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MissingArtifactsError);
  const message = (error as Error).message;
  for (const name of ARTIFACT_NAMES) {
    expect(message).toContain(path.join(dir, name, 'bootstrap.zip'));
  }
  expect(message).toContain(BUILD_COMMAND);
  expect(BUILD_COMMAND).toBe('bash scripts/build-lambdas.sh');
  expect(message).not.toContain('--mysql');
});

test('names only the artifacts that are missing', () => {
  const dir = artifactDir(['books']);
  const app = appWith({ 'bookstore:lambdaArtifactDir': dir });
  expect(() => resolveArtifacts(app.node)).toThrow(
    new MissingArtifactsError([path.join(dir, 'schema-lambda', 'bootstrap.zip'), path.join(dir, 'reviews', 'bootstrap.zip')]),
  );
});

test('by default it looks for target/lambda/<name>/bootstrap.zip at the repo root', () => {
  const app = appWith({});
  const onDisk = ARTIFACT_NAMES.every((n) => fs.existsSync(path.join(CDK_DIR, '..', 'target', 'lambda', n, 'bootstrap.zip')));
  if (onDisk) {
    expect(resolveArtifacts(app.node).placeholder).toBe(false);
  } else {
    expect(() => resolveArtifacts(app.node)).toThrow(/target\/lambda\/[a-z-]+\/bootstrap\.zip/);
  }
});

describe('the Aurora MySQL variant (bookstore:engine=mysql)', () => {
  const mysql = { 'bookstore:engine': 'mysql' };

  test('looks for the MySQL build by default: <repo>/target/lambda-mysql, beside (never instead of) target/lambda', () => {
    expect(lookedUpDir(appWith(mysql).node)).toBe(path.join(REPO_ROOT, 'target', 'lambda-mysql'));
    expect(lookedUpDir(appWith({}).node)).toBe(path.join(REPO_ROOT, 'target', 'lambda'));
    expect(REPO_ROOT).toBe(path.resolve(CDK_DIR, '..'));
  });

  test('without them the app refuses, naming every missing file and the --mysql build command', () => {
    const dir = artifactDir([]);
    let error: unknown;
    try {
      buildBookstore(appWith({ ...mysql, 'bookstore:lambdaArtifactDir': dir }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingArtifactsError);
    const message = (error as Error).message;
    for (const name of ARTIFACT_NAMES) expect(message).toContain(path.join(dir, name, 'bootstrap.zip'));
    expect(message).toContain('(run `bash scripts/build-lambdas.sh --mysql` from the repository root first;');
    expect((error as MissingArtifactsError).buildCommand).toBe('bash scripts/build-lambdas.sh --mysql');
  });

  test('the default directory is the one the error names (relative to the repo root)', () => {
    const app = appWith(mysql);
    const expected = ARTIFACT_NAMES.map((n) => path.join('target', 'lambda-mysql', n, 'bootstrap.zip'));
    const onDisk = expected.every((f) => fs.existsSync(path.join(REPO_ROOT, f)));
    if (onDisk) {
      expect(resolveArtifacts(app.node).placeholder).toBe(false);
    } else {
      expect(() => resolveArtifacts(app.node)).toThrow(/target\/lambda-mysql\/[a-z-]+\/bootstrap\.zip .*build-lambdas\.sh --mysql/);
    }
  });

  test('bookstore:lambdaArtifactDir still wins over the MySQL default', () => {
    const dir = artifactDir(ARTIFACT_NAMES);
    const app = appWith({ ...mysql, 'bookstore:lambdaArtifactDir': dir });
    expect(lookedUpDir(app.node)).toBe(dir);
    expect(resolveArtifacts(app.node).placeholder).toBe(false);
  });
});

test('with real artifacts, each function ships its own zip', () => {
  const dir = artifactDir(ARTIFACT_NAMES);
  const app = appWith({ 'bookstore:lambdaArtifactDir': dir, 'aws:cdk:enable-path-metadata': true });
  const bookstore = buildBookstore(app);
  expect(resolveArtifacts(app.node).placeholder).toBe(false);
  const assembly = app.synth();
  const code = (stackName: string, fnPath: string) => {
    const t = Template.fromJSON(assembly.getStackByName(stackName).template);
    return t.toJSON().Resources[logicalIdByPath(t, 'AWS::Lambda::Function', fnPath)].Properties.Code.S3Key;
  };
  const keys = [
    code(bookstore.database.stackName, '/SchemaFunction/Function/Resource'),
    code(bookstore.app.stackName, '/BooksFunction/Fn/Function/Resource'),
    code(bookstore.app.stackName, '/ReviewsFunction/Fn/Function/Resource'),
  ];
  expect(new Set(keys).size).toBe(3);
  for (const key of keys) expect(key).toMatch(/^[0-9a-f]{64}\.zip$/);
});

test('`cdk synth` (bin/bookstore.ts) exits 1 with a plain message when the artifacts are missing', () => {
  const outdir = tempDir('bookstore-cdk-out-');
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register', 'bin/bookstore.ts'], {
    cwd: CDK_DIR,
    encoding: 'utf8',
    env: {
      ...process.env,
      TS_NODE_TRANSPILE_ONLY: 'true',
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify(cdkJsonContext()),
      BOOKSTORE_LAMBDA_ARTIFACT_DIR: artifactDir([]),
      BOOKSTORE_PLACEHOLDER_ARTIFACT_DIR: '',
    },
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/^error: Lambda artifacts not built: .*schema-lambda\/bootstrap\.zip/m);
  expect(result.stderr).toContain('bash scripts/build-lambdas.sh');
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(fs.readdirSync(outdir)).toEqual([]);
});

test('the placeholder used by tests and CI cannot run: its bootstrap exits 1 and says how to build', () => {
  const dir = writePlaceholderArtifacts(tempDir('bookstore-placeholder-'));
  const result = spawnSync(path.join(dir, 'bootstrap'), { encoding: 'utf8' });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(BUILD_COMMAND);
  const app = appWith({ 'bookstore:placeholderArtifactDir': dir });
  expect(resolveArtifacts(app.node).placeholder).toBe(true);
});
