//! Token responses as services really send them, turned into the one JSON shape oauth2-rs reads.
//!
//! oauth2-rs parses standard JSON token responses; services stray from it: HighQ answers in XML
//! (`<TokenResponse>`), some send numbers as strings (`"expires_in": "3599"`,
//! `"refresh_token_expires_in": "31536000"`), GitHub reports errors with HTTP 200, and a broken
//! proxy or an expired session answers with an HTML sign-in page. [`normalize`] deals with each
//! before oauth2-rs sees the body, so the protocol code stays standard. It is pure and bounded
//! (size, element count, no DTDs, so no entity expansion), which makes it easy to fuzz.

use quick_xml::events::Event;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ResponseFormat, Wire};

/// The largest token response accepted. Real ones are a few KiB (Microsoft's JWTs are the biggest).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The most fields accepted in an XML token response.
const MAX_XML_FIELDS: usize = 64;
/// Fields whose values are numbers even when a service sends them as strings.
const NUMERIC_FIELDS: &[&str] = &["expires_in", "refresh_token_expires_in", "ext_expires_in", "interval"];

/// Why a response could not be turned into a token response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// An HTML page where a token answer was expected: usually a sign-in page.
    #[error("the service answered with a web page instead of a token")]
    WebPage,
    /// Larger than [`MAX_RESPONSE_BYTES`].
    #[error("the service's answer is too large to be a token response")]
    TooLarge,
    /// Not JSON (or XML where allowed), or not the expected shape. Never includes the body.
    #[error("the service's answer is not a valid token response ({0})")]
    Malformed(String),
}

/// Extra token-response fields kept by Token Keeper (oauth2-rs's `ExtraTokenFields`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenExtras {
    /// Seconds until the refresh token expires (GitHub, HighQ, others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
    /// HighQ's account e-mail, needed for its probe URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub useremail: Option<String>,
}
impl oauth2::ExtraTokenFields for TokenExtras {}

/// Turns a raw response into standard JSON bytes and the status oauth2-rs should see.
pub fn normalize(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    wire: &Wire,
) -> Result<(u16, Vec<u8>), NormalizeError> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(NormalizeError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| NormalizeError::Malformed("not text".into()))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if looks_like_html(&ct, trimmed) {
        return Err(NormalizeError::WebPage);
    }
    let mut object = if trimmed.starts_with('<') || ct.contains("xml") {
        if wire.response != ResponseFormat::JsonOrXml {
            return Err(NormalizeError::Malformed("XML where JSON was expected".into()));
        }
        xml_to_object(trimmed)?
    } else {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(NormalizeError::Malformed("JSON that is not an object".into())),
            Err(e) => {
                return Err(NormalizeError::Malformed(format!(
                    "JSON syntax error at line {}, column {}",
                    e.line(),
                    e.column()
                )))
            }
        }
    };
    for field in NUMERIC_FIELDS {
        if let Some(value) = object.remove(*field) {
            match whole_seconds(&value) {
                Some(n) => {
                    object.insert((*field).to_string(), Value::from(n));
                }
                // Unreadable: the field is dropped (the lifetime is then unknown), never the
                // whole answer: it may carry a rotated refresh token, the only one still valid.
                None => tracing::warn!("the service's {field} is not a number of seconds; it is ignored"),
            }
        }
    }
    let status = if status == 200
        && object.contains_key("error")
        && (wire.errors_with_status_200 || !object.contains_key("access_token"))
    {
        400
    } else {
        status
    };
    let bytes = serde_json::to_vec(&Value::Object(object)).map_err(|e| NormalizeError::Malformed(e.to_string()))?;
    Ok((status, bytes))
}

/// A count of seconds as services write it: a whole number, a numeric string (`"3599"`), a
/// fraction (rounded down); anything beyond `u64` is its largest value. `None` when it is none of
/// these (negative, text, `null`, `true`).
fn whole_seconds(value: &Value) -> Option<u64> {
    let number = match value {
        Value::Number(n) => n.clone(),
        Value::String(s) => serde_json::from_str::<serde_json::Number>(s.trim()).ok()?,
        _ => return None,
    };
    match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        // `as` saturates: 1e300 is u64::MAX
        (None, Some(f)) if f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

fn looks_like_html(content_type: &str, body: &str) -> bool {
    if content_type.contains("text/html") {
        return true;
    }
    let head: String = body.chars().take(15).collect::<String>().to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// A flat XML document (`<Root><field>value</field>…</Root>`) as a JSON object of strings.
/// DTDs are refused outright (so no entity can expand); only the five predefined entities and
/// character references are decoded.
fn xml_to_object(text: &str) -> Result<Map<String, Value>, NormalizeError> {
    let bad = |what: &str| NormalizeError::Malformed(format!("XML {what}"));
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut field: Option<String> = None;
    let mut map = Map::new();
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|_| bad("syntax error"))? {
            Event::DocType(_) => return Err(bad("with a document type declaration (refused)")),
            Event::Start(e) => {
                depth += 1;
                match depth {
                    1 => saw_root = true,
                    2 => field = Some(e.local_name().as_ref().to_string()),
                    _ => return Err(bad("nested deeper than a token response")),
                }
            }
            Event::Empty(e) if depth == 1 => {
                let name = e.local_name().as_ref().to_string();
                map.insert(name, Value::String(String::new()));
            }
            Event::Empty(_) => {}
            Event::Text(t) if depth == 2 => {
                let raw = t.xml10_content();
                let value = quick_xml::escape::unescape(&raw).map_err(|_| bad("with an unknown entity (refused)"))?;
                if let Some(name) = &field {
                    append(&mut map, name, &value);
                }
            }
            Event::GeneralRef(r) if depth == 2 => {
                let name = r.xml10_content().into_owned();
                let ch = match name.as_str() {
                    "amp" => "&".to_string(),
                    "lt" => "<".into(),
                    "gt" => ">".into(),
                    "quot" => "\"".into(),
                    "apos" => "'".into(),
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(bad("with an unknown entity (refused)")),
                    },
                };
                if let Some(f) = &field {
                    append(&mut map, f, &ch);
                }
            }
            Event::CData(c) if depth == 2 => {
                if let Some(name) = &field {
                    append(&mut map, name, &c.xml10_content());
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some(name) = field.take() {
                        map.entry(name).or_insert_with(|| Value::String(String::new()));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
        if map.len() > MAX_XML_FIELDS {
            return Err(bad("with too many fields"));
        }
    }
    if !saw_root || depth != 0 {
        return Err(bad("that is incomplete"));
    }
    Ok(map)
}

fn append(map: &mut Map<String, Value>, name: &str, text: &str) {
    let entry = map.entry(name.to_string()).or_insert_with(|| Value::String(String::new()));
    if let Value::String(s) = entry {
        s.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn highq() -> Wire {
        Wire { response: ResponseFormat::JsonOrXml, ..Wire::default() }
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn highq_xml_from_the_seed_becomes_standard_json() {
        let xml = "<TokenResponse>\n<access_token>E_MIswtXKgu123456RlueUXQqFvyTCxw</access_token>\n<expires_in>2419200</expires_in>\n<refresh_token>nincFU9Jv8612343rsvgPlsv6tAc0Nks</refresh_token>\n<token_type>bearer</token_type>\n<useremail>user@clientname.com</useremail>\n</TokenResponse>";
        let (status, bytes) = normalize(200, Some("application/xml"), xml.as_bytes(), &highq()).unwrap();
        assert_eq!(status, 200);
        let v = json(&bytes);
        assert_eq!(v["access_token"], "E_MIswtXKgu123456RlueUXQqFvyTCxw");
        assert_eq!(v["expires_in"], 2419200);
        assert_eq!(v["useremail"], "user@clientname.com");
    }

    #[test]
    fn numbers_sent_as_strings_are_read_as_numbers() {
        let body =
            br#"{"access_token":"a","token_type":"bearer","expires_in":"3599","refresh_token_expires_in":"31536000"}"#;
        let v = json(&normalize(200, Some("application/json"), body, &Wire::default()).unwrap().1);
        assert_eq!(v["expires_in"], 3599);
        assert_eq!(v["refresh_token_expires_in"], 31536000);
    }

    #[test]
    fn errors_with_status_200_become_400() {
        let body =
            br#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}"#;
        let wire = Wire { errors_with_status_200: true, ..Wire::default() };
        assert_eq!(normalize(200, Some("application/json"), body, &wire).unwrap().0, 400);
    }

    #[test]
    fn html_sign_in_pages_are_recognised() {
        let page = b"<!DOCTYPE html><html><body>Log in</body></html>";
        assert_eq!(normalize(200, Some("text/html"), page, &Wire::default()), Err(NormalizeError::WebPage));
        assert_eq!(normalize(200, None, page, &highq()), Err(NormalizeError::WebPage));
    }

    #[test]
    fn entity_expansion_and_dtds_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><TokenResponse><access_token>&lol2;</access_token></TokenResponse>"#;
        assert!(matches!(normalize(200, None, bomb.as_bytes(), &highq()), Err(NormalizeError::Malformed(_))));
        let undefined = "<TokenResponse><access_token>&xxe;</access_token></TokenResponse>";
        assert!(matches!(normalize(200, None, undefined.as_bytes(), &highq()), Err(NormalizeError::Malformed(_))));
    }

    #[test]
    fn oversized_and_garbage_bodies_are_refused_without_echoing_them() {
        let huge = vec![b' '; MAX_RESPONSE_BYTES + 1];
        assert_eq!(normalize(200, None, &huge, &Wire::default()), Err(NormalizeError::TooLarge));
        let err = normalize(200, None, b"{\"access_token\": \"sekrit", &Wire::default()).unwrap_err();
        assert!(!err.to_string().contains("sekrit"), "{err}");
        assert!(normalize(200, None, b"[1,2]", &Wire::default()).is_err());
        assert!(normalize(200, None, &[0xff, 0xfe], &Wire::default()).is_err());
        assert!(normalize(200, None, b"<TokenResponse><a>x</a>", &highq()).is_err(), "unterminated XML");
    }

    #[test]
    fn an_unreadable_lifetime_is_dropped_and_the_rest_of_the_answer_kept() {
        for bad in [r#""soon""#, "-5", "null", "true", r#"{"s":1}"#, r#""""#] {
            let body =
                format!(r#"{{"access_token":"a","token_type":"bearer","refresh_token":"r2","expires_in":{bad}}}"#);
            let (status, bytes) = normalize(200, None, body.as_bytes(), &Wire::default()).unwrap();
            let v = json(&bytes);
            assert_eq!((status, &v["refresh_token"], v.get("expires_in")), (200, &Value::from("r2"), None), "{bad}");
            let answer: crate::actions::oauth::TokenAnswer = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(oauth2::TokenResponse::refresh_token(&answer).unwrap().secret(), "r2");
        }
        for (sent, read) in
            [("3599.9", 3599u64), (r#"" 60 ""#, 60), ("1e300", u64::MAX), ("18446744073709551616", u64::MAX)]
        {
            let body = format!(r#"{{"access_token":"a","token_type":"bearer","expires_in":{sent}}}"#);
            let v = json(&normalize(200, None, body.as_bytes(), &Wire::default()).unwrap().1);
            assert_eq!(v["expires_in"], read, "{sent}");
        }
    }

    #[test]
    fn xml_is_refused_where_the_profile_expects_json() {
        let xml = b"<TokenResponse><access_token>a</access_token></TokenResponse>";
        assert!(normalize(200, Some("application/xml"), xml, &Wire::default()).is_err());
    }

    /// Property tests: the parsers take whatever a network hands them. Quick enough for every
    /// `cargo test` (a few hundred cases each, well under a second in a debug build); `make fuzz`
    /// runs many more (see [`crate::properties::support`]).
    mod properties {
        use super::*;
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        use crate::properties::support::{cases, config, heavy_cases, text};

        /// Put into every generated body: an error message must never contain it.
        const MARK: &str = "SEKRIT-7f3a";

        fn wires() -> impl Strategy<Value = Wire> {
            (any::<bool>(), any::<bool>()).prop_map(|(xml, errors_200)| Wire {
                response: if xml { ResponseFormat::JsonOrXml } else { ResponseFormat::Json },
                errors_with_status_200: errors_200,
                ..Wire::default()
            })
        }

        fn content_types() -> impl Strategy<Value = Option<&'static str>> {
            prop::sample::select(vec![
                None,
                Some("application/json"),
                Some("application/xml"),
                Some("text/xml; charset=utf-8"),
                Some("text/html"),
                Some("text/plain"),
            ])
        }

        fn name() -> impl Strategy<Value = String> {
            vec(prop::sample::select(b"abcdefghijklmnopqrstuvwxyz_".to_vec()), 1..12)
                .prop_map(|b| String::from_utf8(b).unwrap())
        }

        proptest! {
            #![proptest_config(config(cases(256)))]

            #[test]
            fn arbitrary_bytes_never_panic_nor_echo_the_body(
                before in vec(any::<u8>(), 0..512),
                after in vec(any::<u8>(), 0..512),
                status in 100u16..600,
                ct in content_types(),
                wire in wires(),
            ) {
                let mut body = before;
                body.extend_from_slice(MARK.as_bytes());
                body.extend_from_slice(&after);
                if let Err(e) = normalize(status, ct, &body, &wire) {
                    prop_assert!(!e.to_string().contains(MARK), "{e}");
                    prop_assert!(!format!("{e:?}").contains(MARK), "{e:?}");
                }
            }

            #[test]
            fn almost_json_never_echoes_its_values(
                value in text(40),
                field in prop::sample::select(vec!["access_token", "expires_in", "refresh_token_expires_in", "interval"]),
                cut in 0usize..80,
                wire in wires(),
            ) {
                let whole = serde_json::json!({ field: format!("{value}{MARK}") }).to_string();
                let cut = whole.len().saturating_sub(cut);
                for body in [whole.as_bytes(), &whole.as_bytes()[..cut]] {
                    if let Err(e) = normalize(200, Some("application/json"), body, &wire) {
                        prop_assert!(!e.to_string().contains(MARK), "{e}");
                    }
                }
            }

            #[test]
            fn json_token_responses_round_trip(
                access_token in text(64),
                expires_in in prop::option::of(0u64..10_000_000),
                as_string in any::<bool>(),
                extra in btree_map(name(), prop_oneof![
                    text(20).prop_map(Value::from),
                    any::<i64>().prop_map(Value::from),
                    any::<bool>().prop_map(Value::from),
                    Just(Value::Null),
                ], 0..8),
                wire in wires(),
            ) {
                let mut object: Map<String, Value> = extra
                    .into_iter()
                    .filter(|(k, _)| !NUMERIC_FIELDS.contains(&k.as_str()) && k != "error")
                    .collect();
                object.insert("access_token".into(), Value::from(access_token.clone()));
                object.insert("token_type".into(), Value::from("bearer"));
                if let Some(n) = expires_in {
                    let sent = if as_string { Value::from(n.to_string()) } else { Value::from(n) };
                    object.insert("expires_in".into(), sent);
                }
                let body = serde_json::to_vec(&Value::Object(object.clone())).unwrap();
                let (status, out) = normalize(200, Some("application/json"), &body, &wire).unwrap();
                prop_assert_eq!(status, 200);
                let out: Map<String, Value> = serde_json::from_slice(&out).unwrap();
                if let Some(n) = expires_in {
                    object.insert("expires_in".into(), Value::from(n));
                }
                prop_assert_eq!(&out, &object);
                prop_assert_eq!(out["access_token"].as_str(), Some(access_token.as_str()));
            }

            #[test]
            fn xml_soups_with_a_doctype_or_unknown_entities_are_refused(
                root in name(),
                children in vec((name(), prop::sample::select(vec![0u8, 1, 2, 3, 4, 5]), name()), 0..10),
                doctype_at in prop::option::of(0usize..12),
                entity_at in 0usize..12,
                entity in name(),
            ) {
                prop_assume!(!["amp", "lt", "gt", "quot", "apos"].contains(&entity.as_str()));
                let mut parts: Vec<String> = Vec::new();
                for (tag, kind, value) in &children {
                    parts.push(match kind {
                        0 => format!("<{tag}>{value}</{tag}>"),
                        1 => format!("<{tag}>&amp;{value}&#65;</{tag}>"),
                        2 => format!("<{tag}><![CDATA[{value}]]></{tag}>"),
                        3 => format!("<{tag}/>"),
                        4 => format!("<{tag}><{value}>x</{value}></{tag}>"),
                        _ => format!("<!-- {value} -->"),
                    });
                }
                let doctype = format!(
                    "<!DOCTYPE {root} [<!ENTITY {entity} \"EXPANDED\"><!ENTITY b \"&{entity};&{entity};\">]>"
                );
                // An undefined entity inside a field's value.
                let reference = format!("<f>x&{entity};y</f>");
                parts.insert(entity_at.min(parts.len()), reference);
                let with_doctype = doctype_at.is_some();
                if let Some(at) = doctype_at {
                    parts.insert(at.min(parts.len()), doctype.clone());
                }
                let mut xml = format!("<{root}>{}</{root}>", parts.join(""));
                if doctype_at == Some(0) {
                    xml = format!("<?xml version=\"1.0\"?>{doctype}{xml}");
                }
                let wire = Wire { response: ResponseFormat::JsonOrXml, ..Wire::default() };
                let result = normalize(200, Some("application/xml"), xml.as_bytes(), &wire);
                prop_assert!(matches!(result, Err(NormalizeError::Malformed(_))), "accepted: {xml} (doctype: {with_doctype})");
                let e = result.unwrap_err().to_string();
                prop_assert!(!e.contains("EXPANDED"), "{e}");
            }
        }

        proptest! {
            #![proptest_config(config(heavy_cases(12)))]

            #[test]
            fn bodies_above_the_limit_are_refused(
                extra in 1usize..8192,
                fill in any::<u8>(),
                ct in content_types(),
                wire in wires(),
            ) {
                let mut body = vec![fill; MAX_RESPONSE_BYTES + extra];
                body[..2].copy_from_slice(b"{\"");
                prop_assert_eq!(normalize(200, ct, &body, &wire), Err(NormalizeError::TooLarge));
            }
        }
    }
}
