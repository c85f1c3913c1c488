//! Browser calls by name, for the code that loads lazily (notifications, Web Push, "New
//! message", the `@` completer).
//!
//! Each `web-sys` binding the app uses is a function in the page's JavaScript glue, which every
//! first visit downloads whether or not the code that calls it is ever loaded. These go through
//! `Reflect` and `Function`, which the glue has already: a browser API used only by a lazy panel
//! costs the first load nothing. A missing property is `undefined`; a call of a missing method
//! is an error, never a panic.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `target[name]` (`undefined` if absent).
pub fn get(target: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[name] = value`.
pub fn set(target: &JsValue, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(name), value);
}

/// `target[name](...args)`, with up to two arguments.
pub fn call(target: &JsValue, name: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let method: js_sys::Function = get(target, name).dyn_into()?;
    match args {
        [] => method.call0(target),
        [one] => method.call1(target, one),
        [one, two, ..] => method.call2(target, one, two),
    }
}

/// What `promise` resolves to (a value that is no promise is itself).
pub async fn settled(promise: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(js_sys::Promise::resolve(&promise)).await
}

/// `target[name](...args)`, awaited.
pub async fn call_async(
    target: &JsValue,
    name: &str,
    args: &[&JsValue],
) -> Result<JsValue, JsValue> {
    settled(call(target, name, args)?).await
}

/// A string property, if it is one.
pub fn text(target: &JsValue, name: &str) -> Option<String> {
    get(target, name).as_string()
}

/// A plain object with these properties.
pub fn object(properties: &[(&str, JsValue)]) -> JsValue {
    let object = JsValue::from(js_sys::Object::new());
    for (name, value) in properties {
        set(&object, name, value);
    }
    object
}

/// `new constructor(...args)`.
pub fn construct(constructor: &JsValue, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let arguments = js_sys::Array::new();
    for (at, arg) in args.iter().enumerate() {
        set(&arguments, &at.to_string(), arg);
    }
    let constructor: &js_sys::Function = constructor.dyn_ref().ok_or(JsValue::UNDEFINED)?;
    js_sys::Reflect::construct(constructor, &arguments)
}
