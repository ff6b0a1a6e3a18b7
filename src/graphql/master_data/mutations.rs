//! Master-data mutations: create, update and deactivate vendors, products, locations and the
//! reference records. Records are deactivated, never deleted. All need `vendors:write`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};

use super::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::auth::Permission;
use crate::error::ServiceError;
use crate::graphql::enums::DeliveryMethod;
use crate::graphql::ids::{decode_input, decode_input_opt};
use crate::graphql::payload::{payload, respond};
use crate::graphql::scalars::Decimal;
use crate::graphql::{money_input, require, state};
use crate::services::master_data::{
    self as service, AddressInput as NewAddress, ContactInput as NewContact, LocationChanges,
    NewLocation, NewProduct, NewVendor, ProductChanges, ReferenceKind, VendorChanges,
};
use crate::services::retry_once;

/// A postal address.
#[derive(InputObject)]
pub struct AddressInput {
    /// Street and number.
    pub street: String,
    /// City.
    pub city: String,
    /// State, province or region.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// Country (ISO 3166 code or name).
    pub country: String,
}

impl From<AddressInput> for NewAddress {
    fn from(a: AddressInput) -> Self {
        NewAddress {
            street: a.street,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

/// A person to talk to.
#[derive(InputObject)]
pub struct ContactInput {
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl From<ContactInput> for NewContact {
    fn from(c: ContactInput) -> Self {
        NewContact {
            name: c.name,
            email: c.email,
            phone: c.phone,
        }
    }
}

/// A new vendor.
#[derive(InputObject)]
pub struct CreateVendorInput {
    /// Display name.
    pub name: String,
    /// Unique short code (letters, digits, `-`, `_`; stored upper-case).
    pub code: String,
    /// Main address; required.
    pub address: AddressInput,
    /// Primary contact.
    pub contact: Option<ContactInput>,
    /// Default tax rate, a fraction in [0, 1); 0 when omitted.
    /// Ignored without `costs:read`.
    pub default_tax_rate: Option<Decimal>,
    /// Net payment days; 30 when omitted.
    pub payment_terms_days: Option<i32>,
    /// How purchase orders are sent; EMAIL when omitted.
    pub delivery_method: Option<DeliveryMethod>,
    /// ISO 4217 currency; the base currency when omitted.
    pub currency: Option<String>,
}

/// Changes to a vendor; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateVendorInput {
    /// The vendor.
    pub id: ID,
    /// Display name.
    pub name: Option<String>,
    /// Main address (replaced whole).
    pub address: Option<AddressInput>,
    /// Primary contact; `null` removes it.
    pub contact: MaybeUndefined<ContactInput>,
    /// Default tax rate, a fraction in [0, 1).
    /// Ignored without `costs:read`.
    pub default_tax_rate: Option<Decimal>,
    /// Net payment days.
    pub payment_terms_days: Option<i32>,
    /// How purchase orders are sent.
    pub delivery_method: Option<DeliveryMethod>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Reactivate (true) or deactivate (false).
    pub active: Option<bool>,
}

/// Names the record to deactivate.
#[derive(InputObject)]
pub struct DeactivateInput {
    /// Global ID of the record.
    pub id: ID,
}

/// A new product.
#[derive(InputObject)]
pub struct CreateProductInput {
    /// Unique stock-keeping unit (stored upper-case).
    pub sku: String,
    /// What it is.
    pub description: String,
    /// Unit of measure; `each` when omitted.
    pub unit_of_measure: Option<String>,
    /// Cost used when a line gives none; 0 when omitted.
    /// Ignored without `costs:read`.
    pub default_unit_cost: Option<Decimal>,
    /// Vendor reorders are placed with.
    pub preferred_vendor_id: Option<ID>,
    /// Each unit needs a serial number on receipt.
    pub serialized: Option<bool>,
    /// Over-receipt allowance in percent; the service default when omitted.
    pub over_receipt_allowance_percent: Option<Decimal>,
}

/// Changes to a product; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// The product.
    pub id: ID,
    /// What it is.
    pub description: Option<String>,
    /// Unit of measure.
    pub unit_of_measure: Option<String>,
    /// Cost used when a line gives none.
    /// Ignored without `costs:read`.
    pub default_unit_cost: Option<Decimal>,
    /// Vendor reorders are placed with; `null` removes it.
    pub preferred_vendor_id: MaybeUndefined<ID>,
    /// Each unit needs a serial number on receipt.
    pub serialized: Option<bool>,
    /// Over-receipt allowance in percent; `null` returns to the service default.
    pub over_receipt_allowance_percent: MaybeUndefined<Decimal>,
    /// Reactivate (true) or deactivate (false).
    pub active: Option<bool>,
}

/// A new inventory location.
#[derive(InputObject)]
pub struct CreateInventoryLocationInput {
    /// Unique short code (stored upper-case).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Where it is, if it has a fixed address.
    pub address: Option<AddressInput>,
}

/// Changes to a location; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateInventoryLocationInput {
    /// The location.
    pub id: ID,
    /// Display name.
    pub name: Option<String>,
    /// Address; `null` removes it.
    pub address: MaybeUndefined<AddressInput>,
    /// Reactivate (true) or deactivate (false).
    pub active: Option<bool>,
}

/// A new business unit or purchase-order type.
#[derive(InputObject)]
pub struct CreateNamedRecordInput {
    /// Unique name.
    pub name: String,
}

/// A new job, project or technician.
#[derive(InputObject)]
pub struct CreateNumberedRecordInput {
    /// Unique number.
    pub number: String,
    /// Display name.
    pub name: String,
}

/// Changes to a business unit, PO type, job, project or technician.
#[derive(InputObject)]
pub struct UpdateReferenceInput {
    /// The record.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// Reactivate (true) or deactivate (false).
    pub active: Option<bool>,
}

/// A job's need for a product.
#[derive(InputObject)]
pub struct CreateJobMaterialInput {
    /// The job.
    pub job_id: ID,
    /// The product needed.
    pub product_id: ID,
    /// How much (> 0).
    pub quantity: Decimal,
}

payload!(
    /// Result of a vendor mutation.
    VendorPayload {
        /// The vendor as saved.
        vendor: Vendor
    }
);
payload!(
    /// Result of a product mutation.
    ProductPayload {
        /// The product as saved.
        product: Product
    }
);
payload!(
    /// Result of a location mutation.
    InventoryLocationPayload {
        /// The location as saved.
        inventory_location: InventoryLocation
    }
);
payload!(
    /// Result of a business-unit mutation.
    BusinessUnitPayload {
        /// The business unit as saved.
        business_unit: BusinessUnit
    }
);
payload!(
    /// Result of a purchase-order-type mutation.
    PurchaseOrderTypePayload {
        /// The type as saved.
        purchase_order_type: PurchaseOrderType
    }
);
payload!(
    /// Result of a job mutation.
    JobPayload {
        /// The job as saved.
        job: Job
    }
);
payload!(
    /// Result of a project mutation.
    ProjectPayload {
        /// The project as saved.
        project: Project
    }
);
payload!(
    /// Result of a technician mutation.
    TechnicianPayload {
        /// The technician as saved.
        technician: Technician
    }
);
payload!(
    /// Result of `createJobMaterial`.
    JobMaterialPayload {
        /// The material as saved.
        job_material: JobMaterial
    }
);

#[derive(Default)]
pub struct MasterDataMutation;

/// Generates create / update / deactivate of one reference kind.
macro_rules! reference_mutations {
    ($(#[$doc:meta])* $object:ident, $create:ident, $update:ident, $deactivate:ident, $input:ty,
     $payload:ident, $field:ident, $ty:ident, $kind:expr, $number:expr,
     $create_doc:literal, $update_doc:literal, $deactivate_doc:literal) => {
        $(#[$doc])*
        #[derive(Default)]
        pub struct $object;

        #[Object]
        impl $object {
        #[doc = $create_doc]
        async fn $create(&self, ctx: &Context<'_>, input: $input) -> async_graphql::Result<$payload> {
            require(ctx, Permission::VendorsWrite)?;
            #[allow(clippy::redundant_closure_call)]
            let number: Option<String> = ($number)(&input);
            let result =
                retry_once(|| service::create_reference(&state(ctx).db, $kind, number.as_deref(), &input.name)).await;
            respond(result, |r| $payload { $field: Some($ty::from(r)), ..Default::default() })
        }

        #[doc = $update_doc]
        async fn $update(
            &self,
            ctx: &Context<'_>,
            input: UpdateReferenceInput,
        ) -> async_graphql::Result<$payload> {
            require(ctx, Permission::VendorsWrite)?;
            let result = async {
                let id = decode_input(&input.id, stringify!($ty), "input.id")?;
                retry_once(|| service::update_reference(&state(ctx).db, $kind, id, input.name.as_deref(), input.active))
                    .await
            }
            .await;
            respond(result, |r| $payload { $field: Some($ty::from(r)), ..Default::default() })
        }

        #[doc = $deactivate_doc]
        async fn $deactivate(
            &self,
            ctx: &Context<'_>,
            input: DeactivateInput,
        ) -> async_graphql::Result<$payload> {
            require(ctx, Permission::VendorsWrite)?;
            let result = async {
                let id = decode_input(&input.id, stringify!($ty), "input.id")?;
                retry_once(|| service::update_reference(&state(ctx).db, $kind, id, None, Some(false))).await
            }
            .await;
            respond(result, |r| $payload { $field: Some($ty::from(r)), ..Default::default() })
        }
        }
    };
}

#[Object]
impl MasterDataMutation {
    /// Creates a vendor. The code is unique and the main address required.
    async fn create_vendor(
        &self,
        ctx: &Context<'_>,
        input: CreateVendorInput,
    ) -> async_graphql::Result<VendorPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let state = state(ctx);
        let new = NewVendor {
            name: input.name,
            code: input.code,
            address: input.address.into(),
            contact: input.contact.map(Into::into),
            default_tax_rate: money_input(ctx, input.default_tax_rate),
            payment_terms_days: input.payment_terms_days,
            delivery_method: input.delivery_method.map(Into::into),
            currency: input.currency,
        };
        let result =
            retry_once(|| service::create_vendor(&state.db, &state.settings.business, new.clone()))
                .await;
        respond(result, |v| VendorPayload {
            vendor: Some(v.into()),
            ..Default::default()
        })
    }

    /// Changes a vendor.
    async fn update_vendor(
        &self,
        ctx: &Context<'_>,
        input: UpdateVendorInput,
    ) -> async_graphql::Result<VendorPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let id = decode_input(&input.id, "Vendor", "input.id")?;
            let changes = VendorChanges {
                name: input.name,
                address: input.address.map(Into::into),
                contact: Option::<Option<ContactInput>>::from(input.contact)
                    .map(|c| c.map(Into::into)),
                default_tax_rate: money_input(ctx, input.default_tax_rate),
                payment_terms_days: input.payment_terms_days,
                delivery_method: input.delivery_method.map(Into::into),
                currency: input.currency,
                active: input.active,
            };
            retry_once(|| service::update_vendor(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |v| VendorPayload {
            vendor: Some(v.into()),
            ..Default::default()
        })
    }

    /// Deactivates a vendor: it stays for history but cannot be used on new purchase orders.
    async fn deactivate_vendor(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<VendorPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let id = decode_input(&input.id, "Vendor", "input.id")?;
            let changes = VendorChanges {
                active: Some(false),
                ..Default::default()
            };
            retry_once(|| service::update_vendor(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |v| VendorPayload {
            vendor: Some(v.into()),
            ..Default::default()
        })
    }

    /// Creates a product. The SKU is unique.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let new = NewProduct {
                sku: input.sku,
                description: input.description,
                unit_of_measure: input.unit_of_measure,
                default_unit_cost: money_input(ctx, input.default_unit_cost),
                preferred_vendor_id: decode_input_opt(
                    input.preferred_vendor_id.as_ref(),
                    "Vendor",
                    "input.preferredVendorId",
                )?,
                serialized: input.serialized,
                over_receipt_allowance_percent: input.over_receipt_allowance_percent.map(|d| d.0),
            };
            retry_once(|| service::create_product(&state(ctx).db, new.clone())).await
        }
        .await;
        respond(result, |p| ProductPayload {
            product: Some(p.into()),
            ..Default::default()
        })
    }

    /// Changes a product.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            // Both malformed IDs are reported together.
            let mut v = crate::services::Violations::new();
            let id = crate::graphql::ids::gather(&mut v, &input.id, "Product", "input.id");
            let preferred_vendor_id = match Option::<Option<ID>>::from(input.preferred_vendor_id) {
                None => Some(None),
                Some(None) => Some(Some(None)),
                Some(Some(vendor)) => crate::graphql::ids::gather(
                    &mut v,
                    &vendor,
                    "Vendor",
                    "input.preferredVendorId",
                )
                .map(|vendor| Some(Some(vendor))),
            };
            let (id, preferred_vendor_id) = v.done((id, preferred_vendor_id))?;
            let changes = ProductChanges {
                description: input.description,
                unit_of_measure: input.unit_of_measure,
                default_unit_cost: money_input(ctx, input.default_unit_cost),
                preferred_vendor_id,
                serialized: input.serialized,
                over_receipt_allowance_percent: Option::<Option<Decimal>>::from(
                    input.over_receipt_allowance_percent,
                )
                .map(|d| d.map(|d| d.0)),
                active: input.active,
            };
            retry_once(|| service::update_product(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |p| ProductPayload {
            product: Some(p.into()),
            ..Default::default()
        })
    }

    /// Deactivates a product: it stays for history but cannot be ordered.
    async fn deactivate_product(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<ProductPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let id = decode_input(&input.id, "Product", "input.id")?;
            let changes = ProductChanges {
                active: Some(false),
                ..Default::default()
            };
            retry_once(|| service::update_product(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |p| ProductPayload {
            product: Some(p.into()),
            ..Default::default()
        })
    }

    /// Creates an inventory location (warehouse or truck). The code is unique.
    async fn create_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: CreateInventoryLocationInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let new = NewLocation {
            code: input.code,
            name: input.name,
            address: input.address.map(Into::into),
        };
        let result = retry_once(|| service::create_location(&state(ctx).db, new.clone())).await;
        respond(result, |l| InventoryLocationPayload {
            inventory_location: Some(l.into()),
            ..Default::default()
        })
    }

    /// Changes an inventory location.
    async fn update_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: UpdateInventoryLocationInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let id = decode_input(&input.id, "InventoryLocation", "input.id")?;
            let changes = LocationChanges {
                name: input.name,
                address: Option::<Option<AddressInput>>::from(input.address)
                    .map(|a| a.map(Into::into)),
                active: input.active,
            };
            retry_once(|| service::update_location(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |l| InventoryLocationPayload {
            inventory_location: Some(l.into()),
            ..Default::default()
        })
    }

    /// Deactivates a location: no new lines, items, transfers or receipts can use it.
    async fn deactivate_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        require(ctx, Permission::VendorsWrite)?;
        let result = async {
            let id = decode_input(&input.id, "InventoryLocation", "input.id")?;
            let changes = LocationChanges {
                active: Some(false),
                ..Default::default()
            };
            retry_once(|| service::update_location(&state(ctx).db, id, changes.clone())).await
        }
        .await;
        respond(result, |l| InventoryLocationPayload {
            inventory_location: Some(l.into()),
            ..Default::default()
        })
    }

    /// Records a job's need for a quantity of a product (NEED_TO_ORDER); a purchase-order line
    /// can then fill it. Needs `purchase_orders:write`.
    async fn create_job_material(
        &self,
        ctx: &Context<'_>,
        input: CreateJobMaterialInput,
    ) -> async_graphql::Result<JobMaterialPayload> {
        require(ctx, Permission::PurchaseOrdersWrite)?;
        let result: Result<_, ServiceError> = async {
            // Both malformed IDs are reported together.
            let mut v = crate::services::Violations::new();
            let job = crate::graphql::ids::gather(&mut v, &input.job_id, "Job", "input.jobId");
            let product = crate::graphql::ids::gather(
                &mut v,
                &input.product_id,
                "Product",
                "input.productId",
            );
            let (job, product) = v.done((job, product))?;
            retry_once(|| {
                service::create_job_material(&state(ctx).db, job, product, input.quantity.0)
            })
            .await
        }
        .await;
        respond(result, |m| JobMaterialPayload {
            job_material: Some(m.into()),
            ..Default::default()
        })
    }
}

reference_mutations!(
    /// Business-unit mutations.
    BusinessUnitMutation,
    create_business_unit, update_business_unit, deactivate_business_unit,
    CreateNamedRecordInput, BusinessUnitPayload, business_unit, BusinessUnit,
    ReferenceKind::BusinessUnit, |_: &CreateNamedRecordInput| None::<String>,
    "Creates a business unit; its name is unique.",
    "Renames, deactivates or reactivates a business unit.",
    "Deactivates a business unit: it stays for history but cannot be used on new purchase orders."
);
reference_mutations!(
    /// Purchase-order-type mutations.
    PurchaseOrderTypeMutation,
    create_purchase_order_type, update_purchase_order_type, deactivate_purchase_order_type,
    CreateNamedRecordInput, PurchaseOrderTypePayload, purchase_order_type, PurchaseOrderType,
    ReferenceKind::PurchaseOrderType, |_: &CreateNamedRecordInput| None::<String>,
    "Creates a purchase-order type; its name is unique.",
    "Renames, deactivates or reactivates a purchase-order type.",
    "Deactivates a purchase-order type: it stays for history but cannot be used on new purchase orders."
);
reference_mutations!(
    /// Job mutations.
    JobMutation,
    create_job, update_job, deactivate_job,
    CreateNumberedRecordInput, JobPayload, job, Job,
    ReferenceKind::Job, |i: &CreateNumberedRecordInput| Some(i.number.clone()),
    "Creates a job; its number is unique.",
    "Renames, deactivates or reactivates a job.",
    "Deactivates a job; it stays for history."
);
reference_mutations!(
    /// Project mutations.
    ProjectMutation,
    create_project, update_project, deactivate_project,
    CreateNumberedRecordInput, ProjectPayload, project, Project,
    ReferenceKind::Project, |i: &CreateNumberedRecordInput| Some(i.number.clone()),
    "Creates a project; its number is unique.",
    "Renames, deactivates or reactivates a project.",
    "Deactivates a project; it stays for history."
);
reference_mutations!(
    /// Technician mutations.
    TechnicianMutation,
    create_technician, update_technician, deactivate_technician,
    CreateNumberedRecordInput, TechnicianPayload, technician, Technician,
    ReferenceKind::Technician, |i: &CreateNumberedRecordInput| Some(i.number.clone()),
    "Creates a technician; their number is unique.",
    "Renames, deactivates or reactivates a technician.",
    "Deactivates a technician; they stay for history."
);
