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
        if let Some(Value::String(s)) = object.get(*field) {
            let n: u64 = s.trim().parse().map_err(|_| NormalizeError::Malformed(format!("{field} is not a number")))?;
            object.insert((*field).to_string(), Value::from(n));
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
        let err = normalize(200, None, br#"{"expires_in":"soon-sekrit"}"#, &Wire::default()).unwrap_err();
        assert!(!err.to_string().contains("sekrit"));
    }

    #[test]
    fn xml_is_refused_where_the_profile_expects_json() {
        let xml = b"<TokenResponse><access_token>a</access_token></TokenResponse>";
        assert!(normalize(200, Some("application/xml"), xml, &Wire::default()).is_err());
    }
}
