//! Direct rooms: the one private room of a set of people, whoever asks for it first.
//!
//! Its name is made from its people (see [`direct_room_name`]), so every instance finds the
//! same room for the same people without asking anyone; the name's prefix is no other room's
//! (`PrivateRooms::may_see` hides it before the room is made, `create_room` refuses it). It is
//! kept as any private room, its first asker as the owner, but nobody adds, removes or
//! deletes: its people never change.

use sha2::{Digest, Sha256};

use super::{rooms::room_info, *};
use crate::model::DirectRoomBody;

/// Hex digits of the people's hash in a direct room's name: 160 bits, no collision to fear.
const NAME_HASH_HEX: usize = 40;

impl Chat {
    /// The direct room of the caller and `with`: made now (`true`) or as it was.
    pub async fn direct_room(
        &self,
        caller: &Caller,
        with: &DirectRoomBody,
    ) -> Result<(RoomInfo, bool), ChatError> {
        let user = self.signed_in(caller)?;
        if !matches!(user.via, Via::Session { .. }) {
            return Err(ChatError::forbidden(
                "direct rooms are for accounts of this server, not other sites' tokens",
            ));
        }
        // Each ask may make a room: it takes from the same bucket as sends.
        self.check_rate(&SendKey::User(user.key.clone()))?;
        let others = with.others(&user.key)?;
        let identity = &self.shared.identity;
        for other in &others {
            // One answer whichever name is unknown or disabled: no more than sign-up tells.
            if !identity.account_active(other).await? {
                return Err(ChatError::NoSuchAccount);
            }
        }
        let record = PrivateRoomRecord {
            name: direct_room_name(&user.key, &others),
            owner: user.key.to_string(),
            members: others.iter().map(AccountName::key).collect(),
        };
        if let Some(kept) = identity.rooms().get(&record.name) {
            return Ok((room_info(&kept), false));
        }
        if identity.create_private_room(&record).await? {
            self.end_outsiders_polls(&record);
            return Ok((room_info(&record), true));
        }
        // Another instance made it first.
        let kept = identity
            .reload_private_room(&record.name)
            .await
            .ok_or(ChatError::RoomTaken)?;
        Ok((room_info(&kept), false))
    }
}

/// The direct room's name of `caller` and `others`: the prefix, then a hash of everyone's
/// account key in order, the same whoever asks.
fn direct_room_name(caller: &str, others: &[AccountName]) -> String {
    let mut people: Vec<String> = others.iter().map(AccountName::key).collect();
    people.push(caller.to_owned());
    people.sort();
    let digest = Sha256::digest(people.join("\n").as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{DIRECT_ROOM_PREFIX}{}", &hex[..NAME_HASH_HEX])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<AccountName> {
        names
            .iter()
            .map(|n| AccountName::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn the_same_people_get_the_same_name_whoever_asks() {
        let by_ann = direct_room_name("ann", &names(&["Bob", "cy"]));
        assert_eq!(by_ann, direct_room_name("bob", &names(&["cy", "ANN"])));
        assert_eq!(by_ann, direct_room_name("cy", &names(&["bob", "ann"])));
        assert_ne!(by_ann, direct_room_name("ann", &names(&["bob"])));
        assert!(RoomName::parse(&by_ann).is_ok(), "{by_ann}");
    }
}
