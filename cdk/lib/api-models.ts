import * as apigw from 'aws-cdk-lib/aws-apigateway';

/**
 * Request body shapes API Gateway checks before invoking a function (JSON Schema draft 4).
 *
 * They mirror `CreateBook` / `CreateReview` in bookstore-functions (book.rs, review.rs): PUT takes the
 * same body as POST (the Python app's clients create with PUT). They check only the shape: a JSON
 * object, the required fields present, each field's JSON type. Ranges and lengths stay in the Rust
 * functions, which answer 400/422 naming the field; duplicating them here would make two sources of
 * truth drift. `additionalProperties` is left open: the functions refuse unknown fields themselves,
 * with a message that names the field, which API Gateway's validator cannot do.
 */
const S = apigw.JsonSchemaType;

const bookFields: Record<string, apigw.JsonSchema> = {
  title: { type: S.STRING },
  author: { type: S.STRING },
  publisher: { type: S.STRING },
  year: { type: S.INTEGER },
};

const reviewFields: Record<string, apigw.JsonSchema> = {
  book_id: { type: S.INTEGER },
  reviewer: { type: S.STRING },
  rate: { type: S.INTEGER },
  review: { type: [S.STRING, S.NULL] },
};

/** One model per body: name (alphanumeric, API Gateway's rule) and schema. */
export const MODELS: Record<string, { description: string; schema: apigw.JsonSchema }> = {
  NewBook: {
    description: 'POST /book and PUT /book body',
    schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4,
      title: 'NewBook',
      type: S.OBJECT,
      required: ['title', 'author', 'publisher', 'year'],
      properties: bookFields,
    },
  },
  NewReview: {
    description: 'POST /review and PUT /review body',
    schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4,
      title: 'NewReview',
      type: S.OBJECT,
      required: ['book_id', 'reviewer', 'rate'],
      properties: reviewFields,
    },
  },
};
