//! What an agent may do in a conversation right now, and why not (PRODUCT.md section 4).
//!
//! One pure function, [`capabilities`], from the conversation's facts and `now`. The API shows
//! its result and every mutation enforces it, so what an agent is told and what the server
//! allows can never disagree.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Channel, TemplateCategory, TemplateStatus};

/// WhatsApp's customer service window: free-form replies are allowed for 24 hours after the
/// customer's latest message (measured from the message's own timestamp).
pub const SERVICE_WINDOW: Duration = Duration::hours(24);

/// The facts capabilities depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationFacts {
    /// The channel the conversation's replies go through now.
    pub channel: Channel,
    /// The conversation's own customer phone is known (from WhatsApp or shared on request).
    pub customer_phone_known: bool,
    /// The linked contact has a phone.
    pub contact_phone_known: bool,
    /// When the customer's latest message was written.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The customer opted out of SMS from the workspace's number (replied STOP).
    pub sms_opted_out: bool,
    /// The conversation's business number is still connected.
    pub number_connected: bool,
}

/// Why a capability is denied. Each has one fixed text, shown in the API and in the error of a
/// denied mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    WindowClosed,
    AuthenticationNeedsPhone,
    CallNeedsPhone,
    SwitchNeedsPhone,
    PhoneAlreadyKnown,
    TemplatesNeedWhatsapp,
    MediaNeedsWhatsapp,
    ReactionsNeedWhatsapp,
    OptedOut,
    NumberDisconnected,
    /// The template is not `APPROVED` by WhatsApp (PRODUCT.md section 19): its status.
    TemplateNotApproved(TemplateStatus),
}

/// What kind of denial it is, for frontends that translate reasons instead of showing the
/// English text (PRODUCT.md section 15). Several denials share a code: the three that need a
/// phone, the three that need WhatsApp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenialCode {
    WindowClosed,
    PhoneRequired,
    WhatsappOnly,
    OptedOut,
    PhoneAlreadyKnown,
    NumberDisconnected,
    TemplateNotApproved,
}

impl DenialCode {
    /// The code as the API spells it (`DenialReason`, `extensions.reasonCode`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            DenialCode::WindowClosed => "WINDOW_CLOSED",
            DenialCode::PhoneRequired => "PHONE_REQUIRED",
            DenialCode::WhatsappOnly => "WHATSAPP_ONLY",
            DenialCode::OptedOut => "OPTED_OUT",
            DenialCode::PhoneAlreadyKnown => "PHONE_ALREADY_KNOWN",
            DenialCode::NumberDisconnected => "NUMBER_DISCONNECTED",
            DenialCode::TemplateNotApproved => "TEMPLATE_NOT_APPROVED",
        }
    }
}

impl Denial {
    /// Every denial of a conversation's capabilities, for tests and documentation that walk
    /// them all (a template's own status is [`Denial::TEMPLATE_STATUSES`]).
    pub const ALL: [Denial; 10] = [
        Denial::WindowClosed,
        Denial::AuthenticationNeedsPhone,
        Denial::CallNeedsPhone,
        Denial::SwitchNeedsPhone,
        Denial::PhoneAlreadyKnown,
        Denial::TemplatesNeedWhatsapp,
        Denial::MediaNeedsWhatsapp,
        Denial::ReactionsNeedWhatsapp,
        Denial::OptedOut,
        Denial::NumberDisconnected,
    ];

    /// The denials of one template by its status: every status but `APPROVED`.
    pub const TEMPLATE_STATUSES: [Denial; 4] = [
        Denial::TemplateNotApproved(TemplateStatus::Pending),
        Denial::TemplateNotApproved(TemplateStatus::Rejected),
        Denial::TemplateNotApproved(TemplateStatus::Paused),
        Denial::TemplateNotApproved(TemplateStatus::Disabled),
    ];

    /// The denial's code.
    #[must_use]
    pub const fn code(self) -> DenialCode {
        match self {
            Denial::WindowClosed => DenialCode::WindowClosed,
            Denial::AuthenticationNeedsPhone | Denial::CallNeedsPhone | Denial::SwitchNeedsPhone => {
                DenialCode::PhoneRequired
            }
            Denial::PhoneAlreadyKnown => DenialCode::PhoneAlreadyKnown,
            Denial::TemplatesNeedWhatsapp | Denial::MediaNeedsWhatsapp | Denial::ReactionsNeedWhatsapp => {
                DenialCode::WhatsappOnly
            }
            Denial::OptedOut => DenialCode::OptedOut,
            Denial::NumberDisconnected => DenialCode::NumberDisconnected,
            Denial::TemplateNotApproved(_) => DenialCode::TemplateNotApproved,
        }
    }

    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Denial::WindowClosed => {
                "The 24-hour customer service window has closed; send a Marketing or Utility template."
            }
            Denial::AuthenticationNeedsPhone => "Phone number is required to send authentication templates.",
            Denial::CallNeedsPhone => "Phone number is required for outbound calls.",
            Denial::SwitchNeedsPhone => "Channel switching requires a phone number.",
            Denial::PhoneAlreadyKnown => "The customer's phone number is already known.",
            Denial::TemplatesNeedWhatsapp => "Templates can only be sent on WhatsApp.",
            Denial::MediaNeedsWhatsapp => "Media can only be sent on WhatsApp.",
            Denial::ReactionsNeedWhatsapp => "Reactions can only be sent on WhatsApp.",
            Denial::OptedOut => "The customer has opted out of SMS (replied STOP).",
            Denial::NumberDisconnected => "This business number is disconnected.",
            Denial::TemplateNotApproved(status) => match status {
                TemplateStatus::Pending => "This template is not approved by WhatsApp (PENDING).",
                TemplateStatus::Rejected => "This template is not approved by WhatsApp (REJECTED).",
                TemplateStatus::Paused => "This template is not approved by WhatsApp (PAUSED).",
                TemplateStatus::Disabled | TemplateStatus::Approved => {
                    "This template is not approved by WhatsApp (DISABLED)."
                }
            },
        }
    }
}

/// One capability: allowed, or denied with a [`Denial`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability(Option<Denial>);

impl Capability {
    pub const ALLOWED: Capability = Capability(None);

    #[must_use]
    pub const fn denied(denial: Denial) -> Self {
        Capability(Some(denial))
    }

    #[must_use]
    pub const fn allowed(self) -> bool {
        self.0.is_none()
    }

    #[must_use]
    pub const fn denial(self) -> Option<Denial> {
        self.0
    }

    /// The reason text when denied.
    #[must_use]
    pub fn reason(self) -> Option<&'static str> {
        self.0.map(Denial::reason)
    }

    /// `Ok` when allowed, the denial otherwise: how mutations enforce it.
    ///
    /// # Errors
    /// The [`Denial`] when the capability is not allowed.
    pub const fn check(self) -> Result<(), Denial> {
        match self.0 {
            None => Ok(()),
            Some(d) => Err(d),
        }
    }
}

/// Everything an agent may or may not do in one conversation at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub reply: Capability,
    pub call: Capability,
    pub switch_to_sms: Capability,
    pub request_phone_number: Capability,
    pub marketing_template: Capability,
    pub utility_template: Capability,
    pub authentication_template: Capability,
    /// Send a photo, video, audio, document or sticker: WhatsApp, inside the window.
    pub media: Capability,
    /// React to a message (or remove the reaction): WhatsApp, inside the window.
    pub react: Capability,
    /// When free-form replies stop being allowed (WhatsApp only; `None` when no message yet).
    pub service_window_ends_at: Option<DateTime<Utc>>,
}

impl Capabilities {
    /// Whether any capability is allowed in one and not in the other (what
    /// `conversation.capabilities_changed` reports; a changed reason alone is no change).
    #[must_use]
    pub fn flips(&self, other: &Capabilities) -> bool {
        let allowed = |c: &Capabilities| {
            [
                c.reply,
                c.call,
                c.switch_to_sms,
                c.request_phone_number,
                c.marketing_template,
                c.utility_template,
                c.authentication_template,
                c.media,
                c.react,
            ]
            .map(Capability::allowed)
        };
        allowed(self) != allowed(other)
    }

    /// The capability for sending a template of `category`.
    #[must_use]
    pub const fn template(&self, category: TemplateCategory) -> Capability {
        match category {
            TemplateCategory::Marketing => self.marketing_template,
            TemplateCategory::Utility => self.utility_template,
            TemplateCategory::Authentication => self.authentication_template,
        }
    }

    /// The capability for sending one template: only an `APPROVED` one, and only when its
    /// category may be sent in the conversation (its status is named first: it is what the
    /// agent cannot change by waiting for the customer).
    #[must_use]
    pub const fn one_template(&self, category: TemplateCategory, status: TemplateStatus) -> Capability {
        match status {
            TemplateStatus::Approved => self.template(category),
            other => Capability::denied(Denial::TemplateNotApproved(other)),
        }
    }
}

/// Computes the capabilities of a conversation at `now`. A disconnected number denies
/// everything; an SMS opt-out denies replies on SMS and the switch to SMS.
#[must_use]
pub fn capabilities(facts: &ConversationFacts, now: DateTime<Utc>) -> Capabilities {
    let found = connected_capabilities(facts, now);
    if facts.number_connected {
        return found;
    }
    let off = Capability::denied(Denial::NumberDisconnected);
    Capabilities {
        reply: off,
        call: off,
        switch_to_sms: off,
        request_phone_number: off,
        marketing_template: off,
        utility_template: off,
        authentication_template: off,
        media: off,
        react: off,
        service_window_ends_at: found.service_window_ends_at,
    }
}

fn connected_capabilities(facts: &ConversationFacts, now: DateTime<Utc>) -> Capabilities {
    let window_ends_at = facts.last_inbound_at.map(|at| at + SERVICE_WINDOW);
    let window_open = window_ends_at.is_some_and(|end| now < end);
    let any_phone = facts.customer_phone_known || facts.contact_phone_known;
    let on_whatsapp = facts.channel == Channel::Whatsapp;
    let when = |ok: bool, denial: Denial| if ok { Capability::ALLOWED } else { Capability::denied(denial) };

    let reply = match facts.channel {
        Channel::Sms => when(!facts.sms_opted_out, Denial::OptedOut),
        Channel::Whatsapp => when(window_open, Denial::WindowClosed),
    };
    let request_phone_number = if !on_whatsapp || facts.customer_phone_known {
        Capability::denied(Denial::PhoneAlreadyKnown)
    } else {
        when(window_open, Denial::WindowClosed)
    };
    let template = when(on_whatsapp, Denial::TemplatesNeedWhatsapp);
    let authentication_template = if on_whatsapp {
        when(facts.customer_phone_known, Denial::AuthenticationNeedsPhone)
    } else {
        template
    };
    let inside_whatsapp_window = |outside: Denial| {
        if on_whatsapp { when(window_open, Denial::WindowClosed) } else { Capability::denied(outside) }
    };
    Capabilities {
        reply,
        media: inside_whatsapp_window(Denial::MediaNeedsWhatsapp),
        react: inside_whatsapp_window(Denial::ReactionsNeedWhatsapp),
        call: when(any_phone, Denial::CallNeedsPhone),
        switch_to_sms: if any_phone {
            when(!facts.sms_opted_out, Denial::OptedOut)
        } else {
            Capability::denied(Denial::SwitchNeedsPhone)
        },
        request_phone_number,
        marketing_template: template,
        utility_template: template,
        authentication_template,
        service_window_ends_at: if on_whatsapp { window_ends_at } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours_ago: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::hours(hours_ago))
    }
    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().with_timezone(&Utc)
    }
    fn facts(
        channel: Channel,
        customer: bool,
        contact: bool,
        last: Option<DateTime<Utc>>,
    ) -> ConversationFacts {
        ConversationFacts {
            channel,
            customer_phone_known: customer,
            contact_phone_known: contact,
            last_inbound_at: last,
            sms_opted_out: false,
            number_connected: true,
        }
    }

    const OK: Option<&str> = None;
    const WINDOW: Option<&str> =
        Some("The 24-hour customer service window has closed; send a Marketing or Utility template.");
    const AUTH: Option<&str> = Some("Phone number is required to send authentication templates.");
    const CALL: Option<&str> = Some("Phone number is required for outbound calls.");
    const SWITCH: Option<&str> = Some("Channel switching requires a phone number.");
    const KNOWN: Option<&str> = Some("The customer's phone number is already known.");
    const NOT_WA: Option<&str> = Some("Templates can only be sent on WhatsApp.");
    const MEDIA_NOT_WA: Option<&str> = Some("Media can only be sent on WhatsApp.");

    #[test]
    fn media_and_reactions_need_whatsapp_and_the_window() {
        use Channel::{Sms, Whatsapp};
        for (name, f, media) in [
            ("window open", facts(Whatsapp, false, false, at(1)), OK),
            ("window closed", facts(Whatsapp, true, false, at(30)), WINDOW),
            ("no inbound message", facts(Whatsapp, true, false, None), WINDOW),
            ("on SMS", facts(Sms, true, false, at(1)), MEDIA_NOT_WA),
        ] {
            let c = capabilities(&f, now());
            assert_eq!(c.media.reason(), media, "{name}");
            assert_eq!(c.react.allowed(), c.media.allowed(), "{name}");
        }
        let sms = capabilities(&facts(Sms, true, false, at(1)), now());
        assert_eq!(sms.react.reason(), Some("Reactions can only be sent on WhatsApp."));
    }

    #[test]
    fn every_row_of_the_capability_table() {
        use Channel::{Sms, Whatsapp};
        // (case, facts, reply, marketing/utility, authentication, call, switchToSms, requestPhoneNumber)
        let cases = [
            (
                "username-only, window open",
                facts(Whatsapp, false, false, at(1)),
                OK,
                OK,
                AUTH,
                CALL,
                SWITCH,
                OK,
            ),
            (
                "username-only, window closed",
                facts(Whatsapp, false, false, at(30)),
                WINDOW,
                OK,
                AUTH,
                CALL,
                SWITCH,
                WINDOW,
            ),
            (
                "username-only, no inbound message yet",
                facts(Whatsapp, false, false, None),
                WINDOW,
                OK,
                AUTH,
                CALL,
                SWITCH,
                WINDOW,
            ),
            ("phone customer, window open", facts(Whatsapp, true, false, at(2)), OK, OK, OK, OK, OK, KNOWN),
            (
                "phone customer, window closed",
                facts(Whatsapp, true, false, at(25)),
                WINDOW,
                OK,
                OK,
                OK,
                OK,
                KNOWN,
            ),
            (
                "username-only linked to a contact with a phone",
                facts(Whatsapp, false, true, at(1)),
                OK,
                OK,
                AUTH,
                OK,
                OK,
                OK,
            ),
            (
                "username-only linked to a contact with a phone, window closed",
                facts(Whatsapp, false, true, at(48)),
                WINDOW,
                OK,
                AUTH,
                OK,
                OK,
                WINDOW,
            ),
            ("switched to SMS", facts(Sms, true, false, at(72)), OK, NOT_WA, NOT_WA, OK, OK, KNOWN),
        ];
        for (name, f, reply, template, auth, call, switch, request) in cases {
            let c = capabilities(&f, now());
            assert_eq!(c.reply.reason(), reply, "{name}: reply");
            assert_eq!(c.template(TemplateCategory::Marketing).reason(), template, "{name}: marketing");
            assert_eq!(c.template(TemplateCategory::Utility).reason(), template, "{name}: utility");
            assert_eq!(c.template(TemplateCategory::Authentication).reason(), auth, "{name}: authentication");
            assert_eq!(c.call.reason(), call, "{name}: call");
            assert_eq!(c.switch_to_sms.reason(), switch, "{name}: switchToSms");
            assert_eq!(c.request_phone_number.reason(), request, "{name}: requestPhoneNumber");
        }
    }

    #[test]
    fn the_window_is_exactly_twenty_four_hours_from_the_message() {
        let last = now() - Duration::hours(24);
        let c = capabilities(&facts(Channel::Whatsapp, true, false, Some(last)), now());
        assert!(!c.reply.allowed(), "closed at exactly 24h");
        assert_eq!(c.service_window_ends_at, Some(now()));
        let c =
            capabilities(&facts(Channel::Whatsapp, true, false, Some(last + Duration::seconds(1))), now());
        assert!(c.reply.allowed(), "open one second before");
    }

    #[test]
    fn an_opt_out_stops_sms_and_a_disconnected_number_stops_everything() {
        let opted_out = ConversationFacts { sms_opted_out: true, ..facts(Channel::Sms, true, false, at(1)) };
        let c = capabilities(&opted_out, now());
        assert_eq!(c.reply.reason(), Some("The customer has opted out of SMS (replied STOP)."));
        assert_eq!(c.switch_to_sms.denial(), Some(Denial::OptedOut));
        assert!(c.call.allowed(), "a phone call is not an SMS");
        let on_whatsapp = capabilities(&ConversationFacts { channel: Channel::Whatsapp, ..opted_out }, now());
        assert!(on_whatsapp.reply.allowed(), "WhatsApp replies are not SMS");
        assert_eq!(on_whatsapp.switch_to_sms.denial(), Some(Denial::OptedOut));

        let gone =
            ConversationFacts { number_connected: false, ..facts(Channel::Whatsapp, true, true, at(1)) };
        let c = capabilities(&gone, now());
        for capability in [c.reply, c.call, c.switch_to_sms, c.request_phone_number, c.media, c.react] {
            assert_eq!(capability.reason(), Some("This business number is disconnected."));
        }
        for category in TemplateCategory::ALL {
            assert_eq!(c.template(*category).denial(), Some(Denial::NumberDisconnected));
        }
    }

    #[test]
    fn only_an_approved_template_can_be_sent_and_its_status_is_the_reason() {
        let c = capabilities(&facts(Channel::Whatsapp, true, false, at(1)), now());
        assert!(c.one_template(TemplateCategory::Utility, TemplateStatus::Approved).allowed());
        let paused = c.one_template(TemplateCategory::Utility, TemplateStatus::Paused);
        assert_eq!(paused.reason(), Some("This template is not approved by WhatsApp (PAUSED)."));
        assert_eq!(paused.denial().map(Denial::code), Some(DenialCode::TemplateNotApproved));
        for denial in Denial::TEMPLATE_STATUSES {
            let Denial::TemplateNotApproved(status) = denial else { unreachable!() };
            let reason = c.one_template(TemplateCategory::Marketing, status).reason().unwrap();
            assert!(reason.ends_with(&format!("({status}).")), "{reason}");
        }
        let hidden = capabilities(&facts(Channel::Whatsapp, false, false, at(1)), now());
        let auth = hidden.one_template(TemplateCategory::Authentication, TemplateStatus::Approved);
        assert_eq!(auth.denial(), Some(Denial::AuthenticationNeedsPhone), "the category still counts");
    }

    #[test]
    fn check_returns_the_denial() {
        let c = capabilities(&facts(Channel::Whatsapp, false, false, at(1)), now());
        assert_eq!(c.call.check(), Err(Denial::CallNeedsPhone));
        assert_eq!(c.reply.check(), Ok(()));
    }
}
