//! GraphQL enums, mirrored from the storage enums so the schema never depends on sea-orm.

use async_graphql::Enum;

macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident <=> $storage:path { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl From<$storage> for $name {
            fn from(value: $storage) -> Self {
                match value {
                    $(<$storage>::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $storage {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => <$storage>::$variant),+
                }
            }
        }
    };
}

mirror_enum!(
    /// Where a purchase order is in its life (DOMAIN.md, Purchase order lifecycle).
    PurchaseOrderStatus <=> entity::enums::PurchaseOrderStatus {
        /// Being prepared; lines can be added and removed.
        Pending,
        /// Sent to the vendor; open quantities count as on order.
        Submitted,
        /// Some quantity has been received.
        PartiallyReceived,
        /// Every line is fully received.
        Received,
        /// Finalized; nothing more is expected.
        Closed,
        /// Cancelled before anything was received.
        Canceled,
    }
);

mirror_enum!(
    /// How purchase orders reach the vendor.
    DeliveryMethod <=> entity::enums::DeliveryMethod {
        /// By email.
        Email,
        /// By fax.
        Fax,
        /// Through the vendor's portal.
        Portal,
        /// By hand or phone.
        Manual,
    }
);

mirror_enum!(
    /// Where a job's need for a product stands.
    JobMaterialStatus <=> entity::enums::JobMaterialStatus {
        /// Not yet on a submitted purchase order.
        NeedToOrder,
        /// On a submitted purchase order.
        Ordered,
        /// Its purchase-order line is fully received.
        Fulfilled,
    }
);

mirror_enum!(
    /// Whether a bill charges or credits.
    BillKind <=> entity::enums::BillKind {
        /// A charge for received goods.
        Bill,
        /// A credit for a cancelled receipt.
        Credit,
    }
);

mirror_enum!(
    /// Whether a bill still counts.
    BillStatus <=> entity::enums::BillStatus {
        /// Counts towards what is owed.
        Open,
        /// Replaced by another bill after a unit-cost change.
        Superseded,
    }
);
