//! Vendors, products, locations and the thin reference records.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, SimpleObject, ID};

use crate::auth::Permission;
use crate::graphql::connection::Page;
use crate::graphql::enums::{DeliveryMethod, JobMaterialStatus};
use crate::graphql::guard::{Guarded, Identity, Reads};
use crate::graphql::ids::to_gid;
use crate::graphql::inventory::types::InventoryItem;
use crate::graphql::loaders::{load_one, load_required, JobId, LineId, ProductId, VendorId};
use crate::graphql::loaders::{
    BillsOfVendor, ItemsOfLocation, ItemsOfProduct, MaterialsOfJob, PurchaseOrdersOfJob,
    PurchaseOrdersOfVendor,
};
use crate::graphql::purchasing::types::PurchaseOrder;
use crate::graphql::purchasing::types::PurchaseOrderLine;
use crate::graphql::receiving::types::Bill;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::window::nested_page;
use crate::graphql::{can_see_costs, require};
use crate::services::master_data::ReferenceRecord;

/// A postal address.
#[derive(SimpleObject, Clone, Debug)]
pub struct Address {
    /// Street and number.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country (ISO 3166 code or name).
    pub country: Option<String>,
}

/// A person to talk to at a vendor.
#[derive(SimpleObject, Clone, Debug)]
pub struct Contact {
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// A supplier that purchase orders are placed with and that bills come from. Its id, code and
/// name show wherever it is reached; every other field needs `vendors:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct Vendor {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// Unique short code, e.g. `ACME`.
    #[graphql(guard = "Identity")]
    pub code: String,
    /// Display name.
    #[graphql(guard = "Identity")]
    pub name: String,
    /// Inactive vendors cannot be used on new purchase orders.
    pub active: bool,
    /// Main address; bills are remitted to it.
    pub address: Address,
    /// Primary contact, if known.
    pub contact: Option<Contact>,
    #[graphql(skip)]
    pub default_tax_rate_value: Decimal,
    /// Days from bill date to due date.
    pub payment_terms_days: i32,
    /// How purchase orders are sent.
    pub delivery_method: DeliveryMethod,
    /// ISO 4217 code of the currency it bills in.
    pub currency: String,
    /// When it was created.
    pub created_at: DateTime,
    /// When it last changed.
    pub updated_at: DateTime,
}

impl Guarded for Vendor {
    const READ: Permission = Permission::VendorsRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl Vendor {
    /// Default tax rate of its purchase orders, a fraction (`0.0825` is 8.25 %); null without
    /// `costs:read` (a tax rate is a money value).
    async fn default_tax_rate(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then_some(self.default_tax_rate_value)
    }

    /// Its purchase orders, oldest first. Needs `purchase_orders:read`.
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<PurchaseOrder>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| PurchaseOrdersOfVendor {
                parent,
                after,
                limit,
            },
            |m: &entity::purchase_order::Model| i64::from(m.id),
            PurchaseOrder::from,
        )
        .await
    }

    /// Its bills and credits, oldest first. Needs `bills:read`.
    async fn bills(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<Bill>> {
        require(ctx, Permission::BillsRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| BillsOfVendor {
                parent,
                after,
                limit,
            },
            |m: &entity::bill::Model| i64::from(m.id),
            Bill::from,
        )
        .await
    }
}

impl From<entity::vendor::Model> for Vendor {
    fn from(m: entity::vendor::Model) -> Self {
        let contact =
            (m.contact_name.is_some() || m.contact_email.is_some() || m.contact_phone.is_some())
                .then_some(Contact {
                    name: m.contact_name,
                    email: m.contact_email,
                    phone: m.contact_phone,
                });
        Vendor {
            id: to_gid("Vendor", m.id),
            db_id: m.id,
            code: m.code,
            name: m.name,
            active: m.active,
            address: Address {
                street: Some(m.street),
                city: Some(m.city),
                region: m.region,
                postal_code: Some(m.postal_code),
                country: Some(m.country),
            },
            contact,
            default_tax_rate_value: m.default_tax_rate.into(),
            payment_terms_days: m.payment_terms_days,
            delivery_method: m.delivery_method.into(),
            currency: m.currency,
            created_at: DateTime(m.created_at),
            updated_at: DateTime(m.updated_at),
        }
    }
}

/// A warehouse or a truck: somewhere stock is kept. Its id, code and name show wherever it is
/// reached; every other field needs `vendors:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct InventoryLocation {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// Unique short code, e.g. `WH-MAIN`.
    #[graphql(guard = "Identity")]
    pub code: String,
    /// Display name.
    #[graphql(guard = "Identity")]
    pub name: String,
    /// Only active locations can be used on new lines, items, transfers and receipts.
    pub active: bool,
    /// Where it is, if it has a fixed address.
    pub address: Option<Address>,
    /// When it was created.
    pub created_at: DateTime,
}

impl From<entity::inventory_location::Model> for InventoryLocation {
    fn from(m: entity::inventory_location::Model) -> Self {
        crate::graphql::loaders::columns::LocationColumns::from(m).into()
    }
}

impl From<crate::graphql::loaders::columns::LocationColumns> for InventoryLocation {
    fn from(m: crate::graphql::loaders::columns::LocationColumns) -> Self {
        let has_address = m.street.is_some()
            || m.city.is_some()
            || m.postal_code.is_some()
            || m.country.is_some();
        InventoryLocation {
            id: to_gid("InventoryLocation", m.id),
            db_id: m.id,
            code: m.code,
            name: m.name,
            active: m.active,
            address: has_address.then_some(Address {
                street: m.street,
                city: m.city,
                region: m.region,
                postal_code: m.postal_code,
                country: m.country,
            }),
            created_at: DateTime(m.created_at),
        }
    }
}

/// A part that is bought and stocked. Its id, SKU, description and unit of measure show wherever
/// it is reached; every other field needs `vendors:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct Product {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    /// Unique stock-keeping unit, e.g. `BOLT-M8-30`.
    #[graphql(guard = "Identity")]
    pub sku: String,
    /// What it is.
    #[graphql(guard = "Identity")]
    pub description: String,
    /// Unit its quantities are counted in (`each`, `m`, `kg`).
    #[graphql(guard = "Identity")]
    pub unit_of_measure: String,
    #[graphql(skip)]
    pub default_unit_cost_value: Decimal,
    #[graphql(skip)]
    pub preferred_vendor_id: Option<i32>,
    /// Each unit carries its own serial number when received.
    pub serialized: bool,
    /// How far (percent) a receipt may exceed the ordered quantity; null means the service default.
    pub over_receipt_allowance_percent: Option<Decimal>,
    /// Inactive products cannot be ordered.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime,
}

impl Guarded for InventoryLocation {
    const READ: Permission = Permission::VendorsRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl InventoryLocation {
    /// The stock kept here, oldest item first. Needs `inventory:read`.
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<InventoryItem>> {
        require(ctx, Permission::InventoryRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| ItemsOfLocation {
                parent,
                after,
                limit,
            },
            |m: &entity::inventory_item::Model| i64::from(m.id),
            InventoryItem::from,
        )
        .await
    }
}

impl Guarded for Product {
    const READ: Permission = Permission::VendorsRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl Product {
    /// Its stock at each location, oldest item first. Needs `inventory:read`.
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<InventoryItem>> {
        require(ctx, Permission::InventoryRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| ItemsOfProduct {
                parent,
                after,
                limit,
            },
            |m: &entity::inventory_item::Model| i64::from(m.id),
            InventoryItem::from,
        )
        .await
    }

    /// Cost used when a line gives none; null without `costs:read`.
    async fn default_unit_cost(&self, ctx: &Context<'_>) -> Option<Decimal> {
        can_see_costs(ctx).then_some(self.default_unit_cost_value)
    }

    /// The vendor reorder suggestions order from.
    async fn preferred_vendor(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<Vendor>>> {
        match self.preferred_vendor_id {
            Some(id) => load_one(ctx, VendorId(id)).await,
            None => Ok(None),
        }
    }
}

impl From<entity::product::Model> for Product {
    fn from(m: entity::product::Model) -> Self {
        crate::graphql::loaders::columns::ProductColumns::from(m).into()
    }
}

impl From<crate::graphql::loaders::columns::ProductColumns> for Product {
    fn from(m: crate::graphql::loaders::columns::ProductColumns) -> Self {
        Product {
            id: to_gid("Product", m.id),
            db_id: m.id,
            sku: m.sku,
            description: m.description,
            unit_of_measure: m.unit_of_measure,
            default_unit_cost_value: m.default_unit_cost.into(),
            preferred_vendor_id: m.preferred_vendor_id,
            serialized: m.serialized,
            over_receipt_allowance_percent: m.over_receipt_allowance_percent.map(Into::into),
            active: m.active,
            created_at: DateTime(m.created_at),
        }
    }
}

macro_rules! reference_record {
    ($(#[$doc:meta])* $name:ident, $module:ident, $type_name:literal $(, $complex:ident)?) => {
        $(#[$doc])*
        ///
        /// Its id, number and name show wherever it is reached; every other field needs
        /// `vendors:read`.
        #[derive(SimpleObject, Clone, Debug)]
        #[graphql(guard = "Reads(Self::READ)")]
        $(#[graphql($complex)])?
        pub struct $name {
            /// Global ID.
            #[graphql(guard = "Identity")]
            pub id: ID,
            #[graphql(skip)]
            pub db_id: i32,
            /// Unique number.
            #[graphql(guard = "Identity")]
            pub number: String,
            /// Display name.
            #[graphql(guard = "Identity")]
            pub name: String,
            /// Inactive records cannot be used on new purchase orders.
            pub active: bool,
        }

        impl Guarded for $name {
            const READ: Permission = Permission::VendorsRead;
        }

        impl From<entity::$module::Model> for $name {
            fn from(m: entity::$module::Model) -> Self {
                $name {
                    id: to_gid($type_name, m.id),
                    db_id: m.id,
                    number: m.number,
                    name: m.name,
                    active: m.active,
                }
            }
        }

        impl From<ReferenceRecord> for $name {
            fn from(r: ReferenceRecord) -> Self {
                $name {
                    id: to_gid($type_name, r.id),
                    db_id: r.id,
                    number: r.number.unwrap_or_default(),
                    name: r.name,
                    active: r.active,
                }
            }
        }
    };
}

reference_record!(
    /// A field-service job that purchase orders and materials can be linked to.
    Job, job, "Job", complex
);

#[ComplexObject(guard = "Reads(Self::READ)")]
impl Job {
    /// What the job needs, oldest first. Needs `purchase_orders:read`.
    async fn materials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<JobMaterial>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| MaterialsOfJob {
                parent,
                after,
                limit,
            },
            |m: &entity::job_material::Model| i64::from(m.id),
            JobMaterial::from,
        )
        .await
    }

    /// The purchase orders bought for it (linked on the order or on one of its lines), oldest
    /// first. Needs `purchase_orders:read`.
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 25, at most 50).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> async_graphql::Result<Page<PurchaseOrder>> {
        require(ctx, Permission::PurchaseOrdersRead)?;
        let parent = self.db_id;
        nested_page(
            ctx,
            first,
            after,
            |after, limit| PurchaseOrdersOfJob {
                parent,
                after,
                limit,
            },
            |m: &entity::purchase_order::Model| i64::from(m.id),
            PurchaseOrder::from,
        )
        .await
    }
}
reference_record!(
    /// A project that purchase orders can be linked to.
    Project, project, "Project"
);
reference_record!(
    /// A technician a purchase order is bought for.
    Technician, technician, "Technician"
);

macro_rules! named_record {
    ($(#[$doc:meta])* $name:ident, $module:ident, $type_name:literal) => {
        $(#[$doc])*
        ///
        /// Its id and name show wherever it is reached; every other field needs `vendors:read`.
        #[derive(SimpleObject, Clone, Debug)]
        #[graphql(guard = "Reads(Self::READ)")]
        pub struct $name {
            /// Global ID.
            #[graphql(guard = "Identity")]
            pub id: ID,
            #[graphql(skip)]
            pub db_id: i32,
            /// Unique name.
            #[graphql(guard = "Identity")]
            pub name: String,
            /// Inactive records cannot be used on new purchase orders.
            pub active: bool,
        }

        impl Guarded for $name {
            const READ: Permission = Permission::VendorsRead;
        }

        impl From<entity::$module::Model> for $name {
            fn from(m: entity::$module::Model) -> Self {
                $name {
                    id: to_gid($type_name, m.id),
                    db_id: m.id,
                    name: m.name,
                    active: m.active,
                }
            }
        }

        impl From<ReferenceRecord> for $name {
            fn from(r: ReferenceRecord) -> Self {
                $name {
                    id: to_gid($type_name, r.id),
                    db_id: r.id,
                    name: r.name,
                    active: r.active,
                }
            }
        }
    };
}

named_record!(
    /// The part of the business whose costs a purchase order is booked against.
    BusinessUnit, business_unit, "BusinessUnit"
);
named_record!(
    /// A category of purchase order (Stock, Job, Project …).
    PurchaseOrderType, purchase_order_type, "PurchaseOrderType"
);

/// A job's need for a quantity of a product; a purchase-order line can fill it. Its id and
/// status show wherever it is reached; every other field needs `purchase_orders:read`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex, guard = "Reads(Self::READ)")]
pub struct JobMaterial {
    /// Global ID.
    #[graphql(guard = "Identity")]
    pub id: ID,
    #[graphql(skip)]
    pub db_id: i32,
    #[graphql(skip)]
    pub job_id: i32,
    #[graphql(skip)]
    pub product_id: i32,
    #[graphql(skip)]
    pub purchase_order_line_id: Option<i32>,
    /// Quantity the job needs.
    pub quantity: Decimal,
    /// NEED_TO_ORDER, then ORDERED when its purchase order is submitted, FULFILLED when its line
    /// is fully received.
    #[graphql(guard = "Identity")]
    pub status: JobMaterialStatus,
}

impl Guarded for JobMaterial {
    const READ: Permission = Permission::PurchaseOrdersRead;
}

#[ComplexObject(guard = "Reads(Self::READ)")]
impl JobMaterial {
    /// The job that needs it.
    async fn job(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Job>> {
        load_required(ctx, JobId(self.job_id)).await
    }

    /// The product needed.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<Product>> {
        load_required(ctx, ProductId(self.product_id)).await
    }

    /// The purchase-order line that fills it, if one does.
    async fn purchase_order_line(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Arc<PurchaseOrderLine>>> {
        match self.purchase_order_line_id {
            Some(id) => load_one(ctx, LineId(id)).await,
            None => Ok(None),
        }
    }
}

impl From<entity::job_material::Model> for JobMaterial {
    fn from(m: entity::job_material::Model) -> Self {
        JobMaterial {
            id: to_gid("JobMaterial", m.id),
            db_id: m.id,
            job_id: m.job_id,
            product_id: m.product_id,
            purchase_order_line_id: m.purchase_order_line_id,
            quantity: m.quantity.into(),
            status: m.status.into(),
        }
    }
}
