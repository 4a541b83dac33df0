//! Connect's standardized status and status-detail codes.
//!
//! Both are open enums on the wire: the platform may send codes newer (or older) than this list,
//! and a request carrying one must not fail to deserialize. Known codes get a variant; anything
//! else is kept verbatim in `Other`, and serializes back unchanged.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares an open string enum: named variants for the known codes plus `Other(String)`.
macro_rules! open_code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A code this build does not know; kept as received.
            Other(String),
        }

        impl $name {
            /// Every code this build knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant,)+];

            /// The wire form of the code.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $code,)+
                    $name::Other(code) => code,
                }
            }

            /// Parses a known code; `None` for anything else (use [`Self::from_wire`] to keep it).
            pub fn known(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Parses any code, keeping unknown ones as `Other`.
            pub fn from_wire(code: &str) -> Self {
                Self::known(code).unwrap_or_else(|| $name::Other(code.to_owned()))
            }

            /// The wire form of a known code as a `'static` string (`None` for `Other`).
            pub fn static_str(&self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($code),)+
                    $name::Other(_) => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::from_wire(&code))
            }
        }

        // Written by hand because a derive would describe a closed enum, and a consumer
        // validating with it would reject the newer codes it is required to accept. The known
        // codes stay listed so generated clients and readers still see them.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_id() -> std::borrow::Cow<'static, str> {
                concat!(module_path!(), "::", stringify!($name)).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": concat!(
                        "Connect's ",
                        stringify!($name),
                        "s. An open set: the first alternative lists the codes known when this ",
                        "schema was generated; any other string is a newer code and must be ",
                        "accepted, not rejected."
                    ),
                    "anyOf": [
                        { "enum": [$($code),+] },
                        { "type": "string" }
                    ]
                })
            }
        }
    };
}

open_code_enum! {
    /// `StandardizedStatusCodes`: the coarse state of a shipment.
    StandardizedStatusCode {
        /// Unknown.
        Unknown = "UN",
        /// Accepted by the carrier.
        Accepted = "AC",
        /// In transit.
        InTransit = "IT",
        /// Delivered.
        Delivered = "DE",
        /// Exception.
        Exception = "EX",
        /// Delivery attempted.
        DeliveryAttempt = "AT",
        /// Not yet in the carrier's system.
        NotYetInSystem = "NY",
        /// Delivered to a service point (collection location).
        DeliveredToServicePoint = "SP",
    }
}

open_code_enum! {
    /// `StandardizedStatusDetailCodes`: the fine-grained reason behind a status.
    StandardizedStatusDetailCode {
        CarrierStatusNotMapped = "CARRIER_STATUS_NOT_MAPPED",
        ShipmentCreated = "SHIPMENT_CREATED",
        AwaitingPickupDropOff = "AWAITING_PICKUP_DROP_OFF",
        DroppedOff = "DROPPED_OFF",
        ElecAdviceRecdByCarrier = "ELEC_ADVICE_RECD_BY_CARRIER",
        PickedUp = "PICKED_UP",
        CustomsCleared = "CUSTOMS_CLEARED",
        CustomsProcessing = "CUSTOMS_PROCESSING",
        DeliveryArrangedWithRecipient = "DELIVERY_ARRANGED_WITH_RECIPIENT",
        HubScanOut = "HUB_SCAN_OUT",
        HubScanIn = "HUB_SCAN_IN",
        InTransit = "IN_TRANSIT",
        Information = "INFORMATION",
        ParcelOverLabelled = "PARCEL_OVER_LABELLED",
        ParcelUpdateNotification = "PARCEL_UPDATE_NOTIFICATION",
        ReceivedByCarrier = "RECEIVED_BY_CARRIER",
        ReceivedLocalDeliveryDepot = "RECEIVED_LOCAL_DELIVERY_DEPOT",
        SubContractorEvent = "SUB_CONTRACTOR_EVENT",
        SubContractorReceived = "SUB_CONTRACTOR_RECEIVED",
        ParcelRedirected = "PARCEL_REDIRECTED",
        DeliveryScheduled = "DELIVERY_SCHEDULED",
        HubProcessing = "HUB_PROCESSING",
        DeliveryRescheduled = "DELIVERY_RESCHEDULED",
        AttemptedDelivery = "ATTEMPTED_DELIVERY",
        AttemptedDeliveryFinal = "ATTEMPTED_DELIVERY_FINAL",
        CodAmountPaid = "COD_AMOUNT_PAID",
        CustomerCarded = "CUSTOMER_CARDED",
        OutForDelivery = "OUT_FOR_DELIVERY",
        AwaitingCollectionFromPickupPoint = "AWAITING_COLLECTION_FROM_PICKUP_POINT",
        CollectAtLocalPo = "COLLECT_AT_LOCAL_PO",
        CustomerToCollectFromCarrier = "CUSTOMER_TO_COLLECT_FROM_CARRIER",
        DeliveredToReception = "DELIVERED_TO_RECEPTION",
        Delivered = "DELIVERED",
        DeliveredDamaged = "DELIVERED_DAMAGED",
        DeliveredInPart = "DELIVERED_IN_PART",
        DeliveredSpecifiedSafePlace = "DELIVERED_SPECIFIED_SAFE_PLACE",
        DeliveredToAlternativeDeliveryLocation = "DELIVERED_TO_ALTERNATIVE_DELIVERY_LOCATION",
        DeliveredToNeighbour = "DELIVERED_TO_NEIGHBOUR",
        DeliveredToPoBox = "DELIVERED_TO_PO_BOX",
        ParcelCollectedFromPickupPoint = "PARCEL_COLLECTED_FROM_PICKUP_POINT",
        PostTransitStatus = "POST_TRANSIT_STATUS",
        ProofOfDelivery = "PROOF_OF_DELIVERY",
        PickupFailed = "PICKUP_FAILED",
        NotYetReceivedByCarrier = "NOT_YET_RECEIVED_BY_CARRIER",
        ParcelDamaged = "PARCEL_DAMAGED",
        AddressQuery = "ADDRESS_QUERY",
        CarrierDelays = "CARRIER_DELAYS",
        DelayedNotCarrier = "DELAYED_NOT_CARRIER",
        HeldByCarrier = "HELD_BY_CARRIER",
        HeldByCarrierForClearancePreProcessing = "HELD_BY_CARRIER_FOR_CLEARANCE_PRE_PROCESSING",
        HeldByCustoms = "HELD_BY_CUSTOMS",
        IncorrectDeclaration = "INCORRECT_DECLARATION",
        Misrouted = "MISROUTED",
        ParcelRepacked = "PARCEL_REPACKED",
        RecdByCarrierNoElecAdvice = "RECD_BY_CARRIER_NO_ELEC_ADVICE",
        CodAmountNotPaid = "COD_AMOUNT_NOT_PAID",
        CustomerIdentificationFailed = "CUSTOMER_IDENTIFICATION_FAILED",
        NoAccessToRecipientsAddress = "NO_ACCESS_TO_RECIPIENTS_ADDRESS",
        Cancelled = "CANCELLED",
        CustomerMoved = "CUSTOMER_MOVED",
        HazardousProhibited = "HAZARDOUS_PROHIBITED",
        NotCollectedFromPickupPoint = "NOT_COLLECTED_FROM_PICKUP_POINT",
        NotDelivered = "NOT_DELIVERED",
        NotDeliveredAddresseeDeceased = "NOT_DELIVERED_ADDRESSEE_DECEASED",
        ParcelDisposed = "PARCEL_DISPOSED",
        ParcelLost = "PARCEL_LOST",
        ParcelOutsideOfServiceCapability = "PARCEL_OUTSIDE_OF_SERVICE_CAPABILITY",
        RefusedByCustomer = "REFUSED_BY_CUSTOMER",
        ReturnToSender = "RETURN_TO_SENDER",
        UnspecifiedException = "UNSPECIFIED_EXCEPTION",
        TrackingExpired = "TRACKING_EXPIRED",
        DutyNotPaid = "DUTY_NOT_PAID",
        ParcelRedirectedByCarrier = "PARCEL_REDIRECTED_BY_CARRIER",
        DeliveredToPickupPoint = "DELIVERED_TO_PICKUP_POINT",
        UndeliverableReturnedToSender = "UNDELIVERABLE_RETURNED_TO_SENDER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_code_list_is_complete() {
        assert_eq!(StandardizedStatusDetailCode::KNOWN.len(), 75);
        assert_eq!(StandardizedStatusCode::KNOWN.len(), 8);
    }

    #[test]
    fn known_codes_round_trip() {
        for code in StandardizedStatusDetailCode::KNOWN {
            let json = serde_json::to_string(code).unwrap();
            let back: StandardizedStatusDetailCode = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, code);
            assert!(!matches!(back, StandardizedStatusDetailCode::Other(_)));
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let code: StandardizedStatusDetailCode =
            serde_json::from_str("\"COLLECTION_FAILED\"").unwrap();
        assert_eq!(
            code,
            StandardizedStatusDetailCode::Other("COLLECTION_FAILED".into())
        );
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"COLLECTION_FAILED\""
        );
        let status: StandardizedStatusCode = serde_json::from_str("\"ZZ\"").unwrap();
        assert_eq!(status.as_str(), "ZZ");
    }
}
