//! Who the browser is, signing up, in and out (the session lives in an `HttpOnly` cookie).

use super::*;

/// Who the browser is signed in as; `None` for a guest.
#[server(prefix = "/sfn", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        Ok(chat.me(&caller).ok())
    })
    .await
}

/// Creates an account and signs it in (the session cookie is set).
#[server(prefix = "/sfn", endpoint = "sign-up")]
pub async fn sign_up(name: String, password: String) -> Result<Me, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.sign_up(&caller, &name, &password).await?;
        sign_in(name, password).await
    })
    .await
}

/// Signs in; the session lives in an `HttpOnly` cookie, never seen by scripts.
#[server(prefix = "/sfn", endpoint = "sign-in")]
pub async fn sign_in(name: String, password: String) -> Result<Me, ChatError> {
    use crate::server::http::caller::session_cookie;

    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        let session = chat.sign_in(&caller, &name, &password).await?;
        set_cookie(session_cookie(&chat, &session));
        Ok(Me {
            name: session.name,
            via: "session".into(),
            expires_at: session.expires_at,
        })
    })
    .await
}

/// Signs out everywhere this session is used, and clears the cookie.
#[server(prefix = "/sfn", endpoint = "sign-out")]
pub async fn sign_out() -> Result<(), ChatError> {
    use crate::server::http::caller::cleared_session_cookie;

    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        // A browser whose session ended elsewhere is signed out already: clear its cookie anyway.
        let result = match caller.user {
            Some(_) => chat.sign_out(&caller).await,
            None => Ok(()),
        };
        set_cookie(cleared_session_cookie(&chat));
        result
    })
    .await
}
