import * as fs from 'node:fs';
import * as path from 'node:path';
import * as apigw from 'aws-cdk-lib/aws-apigateway';

/**
 * The API as the Rust handlers document it: `docs/openapi.json`, generated from their own types by
 * bookstore-functions (`openapi.rs`; a Rust test fails when the committed file is stale). The route table
 * and API Gateway's request models are read from it, so nothing here is written by hand beside the Rust
 * types.
 *
 * The models check only the shape (JSON Schema draft 4, as API Gateway wants): a JSON object, the required
 * fields present, each field's JSON type. Ranges, lengths and patterns stay in the Rust functions, which
 * answer 400/422 naming the field; `additionalProperties` is left open for the same reason (the functions
 * refuse an unknown field with a message that names it, which API Gateway's validator cannot do).
 */
export const OPENAPI_PATH = path.join(__dirname, '..', '..', 'docs', 'openapi.json');

type Json = Record<string, any>;

/** The committed document. */
export function loadOpenApi(file: string = OPENAPI_PATH): Json {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const S = apigw.JsonSchemaType;
const TYPES: Record<string, apigw.JsonSchemaType> = {
  string: S.STRING,
  integer: S.INTEGER,
  number: S.NUMBER,
  boolean: S.BOOLEAN,
  object: S.OBJECT,
  array: S.ARRAY,
  null: S.NULL,
};

function draft4Type(type: unknown, where: string): apigw.JsonSchemaType | apigw.JsonSchemaType[] {
  const one = (t: unknown) => {
    const mapped = TYPES[String(t)];
    if (!mapped) throw new Error(`docs/openapi.json: unsupported type ${JSON.stringify(t)} at ${where}`);
    return mapped;
  };
  return Array.isArray(type) ? type.map(one) : one(type);
}

function componentName(ref: string): string {
  const prefix = '#/components/schemas/';
  if (!ref.startsWith(prefix)) throw new Error(`docs/openapi.json: unsupported $ref ${ref}`);
  return ref.slice(prefix.length);
}

/** A request body schema as a shape-only draft-4 model. */
export function shapeModel(doc: Json, name: string): apigw.JsonSchema {
  const schema = doc.components?.schemas?.[name];
  if (!schema) throw new Error(`docs/openapi.json: no schema ${name}`);
  if (schema.type !== 'object') throw new Error(`docs/openapi.json: request body ${name} is not an object`);
  const properties: Record<string, apigw.JsonSchema> = {};
  for (const [field, property] of Object.entries<Json>(schema.properties ?? {})) {
    properties[field] = { type: draft4Type(property.type, `${name}.${field}`) };
  }
  return {
    schema: apigw.JsonSchemaVersion.DRAFT4,
    title: name,
    type: S.OBJECT,
    ...(schema.required?.length ? { required: [...schema.required] } : {}),
    properties,
  };
}

/** One route of the document: the function is the operation's tag (`books`, `reviews`). */
export interface DocumentedRoute {
  readonly fn: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  /** The request body's schema name (its JSON content), when the operation takes one. */
  readonly body?: string;
  /** Query-string parameters: name → required. */
  readonly query?: Record<string, boolean>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every operation of the document, in document order. */
export function documentedRoutes(doc: Json): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  for (const [routePath, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tags: string[] = op.tags ?? [];
      if (tags.length !== 1) throw new Error(`docs/openapi.json: ${method} ${routePath} must have exactly one tag (its function)`);
      const ref = op.requestBody?.content?.['application/json']?.schema?.$ref;
      const query = Object.fromEntries(
        (op.parameters ?? []).filter((p: Json) => p.in === 'query').map((p: Json) => [p.name, p.required === true]),
      );
      routes.push({
        fn: tags[0],
        method: method.toUpperCase() as DocumentedRoute['method'],
        path: routePath,
        ...(ref ? { body: componentName(ref) } : {}),
        ...(Object.keys(query).length ? { query } : {}),
      });
    }
  }
  return routes;
}

/** The request models: one per request body schema of the document, named after it. */
export function requestModels(doc: Json): Record<string, { description: string; schema: apigw.JsonSchema }> {
  const models: Record<string, { description: string; schema: apigw.JsonSchema }> = {};
  for (const route of documentedRoutes(doc)) {
    if (!route.body) continue;
    const existing = models[route.body];
    const use = `${route.method} ${route.path}`;
    models[route.body] = existing
      ? { ...existing, description: `${existing.description}, ${use}` }
      : { description: `${use} body (from docs/openapi.json)`, schema: shapeModel(doc, route.body) };
  }
  return models;
}

const DOCUMENT = loadOpenApi();

/** The models of the committed document. */
export const MODELS = requestModels(DOCUMENT);
/** The routes of the committed document. */
export const DOCUMENTED_ROUTES = documentedRoutes(DOCUMENT);
