//! API Gateway events to feed a function.

use serde_json::{Map, Value, json};

/// The AWS sample REST proxy event (stage `prod`) the builders fill in.
const REST_TEMPLATE: &str = include_str!("rest-event.json");

/// An API Gateway REST API (v1) proxy event for `method` on `path` (with an optional
/// `?query`, split into both query-string maps), matched by the route `resource` (its
/// `{name}` segments become `pathParameters`), with `body` as a JSON string. The stage
/// is `prod`: `requestContext.path` is `/prod<path>`, `path` is not (set
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` on a function that expects that).
///
/// ```
/// let event = bookstore_testing::lambda::rest_event("GET", "/book/7?x=1", "/book/{id}", None);
/// assert_eq!(event["pathParameters"]["id"], "7");
/// assert_eq!(event["queryStringParameters"]["x"], "1");
/// ```
pub fn rest_event(method: &str, path: &str, resource: &str, body: Option<&Value>) -> Value {
    let mut event: Value = serde_json::from_str(REST_TEMPLATE).expect("the template is JSON");
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let path_parameters = resource
        .split('/')
        .zip(path_only.split('/'))
        .filter_map(|(r, p)| {
            let name = r.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), Value::String(p.to_owned())))
        })
        .collect::<Map<_, _>>();
    let (single, multi) = match query {
        None => (Value::Null, Value::Null),
        Some(q) => {
            let mut single = Map::new();
            let mut multi = Map::new();
            for (k, v) in q.split('&').filter_map(|kv| kv.split_once('=')) {
                single.insert(k.to_owned(), json!(v));
                if let Some(values) = multi
                    .entry(k.to_owned())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    values.push(json!(v));
                }
            }
            (Value::Object(single), Value::Object(multi))
        }
    };
    event["resource"] = json!(resource);
    event["path"] = json!(path_only);
    event["httpMethod"] = json!(method);
    event["pathParameters"] = if path_parameters.is_empty() {
        Value::Null
    } else {
        Value::Object(path_parameters)
    };
    event["queryStringParameters"] = single;
    event["multiValueQueryStringParameters"] = multi;
    event["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
    event["isBase64Encoded"] = json!(false);
    event["requestContext"]["resourcePath"] = json!(resource);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["path"] = json!(format!("/prod{path_only}"));
    event
}
