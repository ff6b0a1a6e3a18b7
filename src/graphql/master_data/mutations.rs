//! Master-data mutations: create, update and deactivate vendors, products, locations and the
//! reference records. Records are deactivated, never deleted. All need `vendors:write`.

use std::future::Future;

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};

use super::types::{
    BusinessUnit, InventoryLocation, Job, JobMaterial, Product, Project, PurchaseOrderType,
    Technician, Vendor,
};
use crate::auth::Permission;
use crate::error::ServiceError;
use crate::graphql::enums::DeliveryMethod;
use crate::graphql::ids::{decode_input, decode_input_opt, gather, gather_opt};
use crate::graphql::payload::{payload, respond, Payload};
use crate::graphql::scalars::Decimal;
use crate::graphql::{money_input, require, state};
use crate::services::master_data::{
    self as service, AddressInput as NewAddress, ContactInput as NewContact, LocationChanges,
    NewJobMaterial, NewLocation, NewProduct, NewVendor, ProductChanges, ReferenceKind,
    VendorChanges,
};
use crate::services::{retry_once, Violations};

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
#[derive(InputObject, Default)]
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
#[derive(InputObject, Default)]
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
#[derive(InputObject, Default)]
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

// Inputs into commands. A malformed ID is refused here, on the input path the client sent, and
// every malformed ID of an input is reported together. Unit costs and tax rates count only from
// a caller who may see costs.

impl CreateVendorInput {
    fn command(self, ctx: &Context<'_>) -> NewVendor {
        NewVendor {
            name: self.name,
            code: self.code,
            address: self.address.into(),
            contact: self.contact.map(Into::into),
            default_tax_rate: money_input(ctx, self.default_tax_rate),
            payment_terms_days: self.payment_terms_days,
            delivery_method: self.delivery_method.map(Into::into),
            currency: self.currency,
        }
    }
}

impl UpdateVendorInput {
    fn command(self, ctx: &Context<'_>) -> Result<(i32, VendorChanges), ServiceError> {
        let contact = Option::<Option<ContactInput>>::from(self.contact);
        let changes = VendorChanges {
            name: self.name,
            address: self.address.map(Into::into),
            contact: contact.map(|c| c.map(Into::into)),
            default_tax_rate: money_input(ctx, self.default_tax_rate),
            payment_terms_days: self.payment_terms_days,
            delivery_method: self.delivery_method.map(Into::into),
            currency: self.currency,
            active: self.active,
        };
        Ok((decode_input(&self.id, "Vendor", "input.id")?, changes))
    }
}

impl CreateProductInput {
    fn command(self, ctx: &Context<'_>) -> Result<NewProduct, ServiceError> {
        let vendor = self.preferred_vendor_id.as_ref();
        Ok(NewProduct {
            preferred_vendor_id: decode_input_opt(vendor, "Vendor", "input.preferredVendorId")?,
            sku: self.sku,
            description: self.description,
            unit_of_measure: self.unit_of_measure,
            default_unit_cost: money_input(ctx, self.default_unit_cost),
            serialized: self.serialized,
            over_receipt_allowance_percent: self.over_receipt_allowance_percent.map(|d| d.0),
        })
    }
}

impl UpdateProductInput {
    fn command(self, ctx: &Context<'_>) -> Result<(i32, ProductChanges), ServiceError> {
        let mut v = Violations::new();
        let id = gather(&mut v, &self.id, "Product", "input.id");
        let vendor = match Option::<Option<ID>>::from(self.preferred_vendor_id) {
            None => Some(None),
            Some(vendor) => {
                gather_opt(&mut v, vendor.as_ref(), "Vendor", "input.preferredVendorId").map(Some)
            }
        };
        let (id, preferred_vendor_id) = v.done((id, vendor))?;
        let allowance = Option::<Option<Decimal>>::from(self.over_receipt_allowance_percent);
        let changes = ProductChanges {
            description: self.description,
            unit_of_measure: self.unit_of_measure,
            default_unit_cost: money_input(ctx, self.default_unit_cost),
            preferred_vendor_id,
            serialized: self.serialized,
            over_receipt_allowance_percent: allowance.map(|a| a.map(|d| d.0)),
            active: self.active,
        };
        Ok((id, changes))
    }
}

impl From<CreateInventoryLocationInput> for NewLocation {
    fn from(input: CreateInventoryLocationInput) -> Self {
        NewLocation {
            code: input.code,
            name: input.name,
            address: input.address.map(Into::into),
        }
    }
}

impl UpdateInventoryLocationInput {
    fn command(self) -> Result<(i32, LocationChanges), ServiceError> {
        let address = Option::<Option<AddressInput>>::from(self.address);
        let changes = LocationChanges {
            name: self.name,
            address: address.map(|a| a.map(Into::into)),
            active: self.active,
        };
        Ok((
            decode_input(&self.id, "InventoryLocation", "input.id")?,
            changes,
        ))
    }
}

impl TryFrom<CreateJobMaterialInput> for NewJobMaterial {
    type Error = ServiceError;

    fn try_from(input: CreateJobMaterialInput) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        let job = gather(&mut v, &input.job_id, "Job", "input.jobId");
        let product = gather(&mut v, &input.product_id, "Product", "input.productId");
        let (job_id, product_id) = v.done((job, product))?;
        Ok(NewJobMaterial {
            job_id,
            product_id,
            quantity: input.quantity.0,
        })
    }
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

impl From<entity::vendor::Model> for VendorPayload {
    fn from(vendor: entity::vendor::Model) -> Self {
        let vendor = Some(vendor.into());
        Self {
            vendor,
            ..Default::default()
        }
    }
}

impl From<entity::product::Model> for ProductPayload {
    fn from(product: entity::product::Model) -> Self {
        let product = Some(product.into());
        Self {
            product,
            ..Default::default()
        }
    }
}

impl From<entity::inventory_location::Model> for InventoryLocationPayload {
    fn from(location: entity::inventory_location::Model) -> Self {
        let inventory_location = Some(location.into());
        Self {
            inventory_location,
            ..Default::default()
        }
    }
}

impl From<entity::job_material::Model> for JobMaterialPayload {
    fn from(material: entity::job_material::Model) -> Self {
        let job_material = Some(material.into());
        Self {
            job_material,
            ..Default::default()
        }
    }
}

/// Runs a master-data use case for a caller who holds `permission`: builds its command from
/// the input (a malformed ID refuses it), runs it (once more if the connection dropped before
/// commit) and answers with its payload.
async fn run<C: Clone, T, P: Payload, Fut: Future<Output = Result<T, ServiceError>>>(
    ctx: &Context<'_>,
    permission: Permission,
    command: impl FnOnce() -> Result<C, ServiceError>,
    use_case: impl Fn(C) -> Fut,
    payload: impl FnOnce(T) -> P,
) -> async_graphql::Result<P> {
    require(ctx, permission)?;
    let result = match command() {
        Ok(command) => retry_once(|| use_case(command.clone())).await,
        Err(refused) => Err(refused),
    };
    respond(result, payload)
}

/// Who may change master data.
const WRITE: Permission = Permission::VendorsWrite;

#[derive(Default)]
pub struct MasterDataMutation;

#[Object]
impl MasterDataMutation {
    /// Creates a vendor. The code is unique and the main address required.
    async fn create_vendor(
        &self,
        ctx: &Context<'_>,
        input: CreateVendorInput,
    ) -> async_graphql::Result<VendorPayload> {
        let s = state(ctx);
        let command = || Ok(input.command(ctx));
        let create = move |new| service::create_vendor(&s.db, &s.settings.business, new);
        run(ctx, WRITE, command, create, VendorPayload::from).await
    }

    /// Changes a vendor.
    async fn update_vendor(
        &self,
        ctx: &Context<'_>,
        input: UpdateVendorInput,
    ) -> async_graphql::Result<VendorPayload> {
        let s = state(ctx);
        let command = || input.command(ctx);
        let update = move |(id, changes)| service::update_vendor(&s.db, id, changes);
        run(ctx, WRITE, command, update, VendorPayload::from).await
    }

    /// Deactivates a vendor: it stays for history but cannot be used on new purchase orders.
    async fn deactivate_vendor(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<VendorPayload> {
        let off = UpdateVendorInput {
            id: input.id,
            active: Some(false),
            ..Default::default()
        };
        self.update_vendor(ctx, off).await
    }

    /// Creates a product. The SKU is unique.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let s = state(ctx);
        let command = || input.command(ctx);
        let create = move |new| service::create_product(&s.db, new);
        run(ctx, WRITE, command, create, ProductPayload::from).await
    }

    /// Changes a product.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let s = state(ctx);
        let command = || input.command(ctx);
        let update = move |(id, changes)| service::update_product(&s.db, id, changes);
        run(ctx, WRITE, command, update, ProductPayload::from).await
    }

    /// Deactivates a product: it stays for history but cannot be ordered.
    async fn deactivate_product(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<ProductPayload> {
        let off = UpdateProductInput {
            id: input.id,
            active: Some(false),
            ..Default::default()
        };
        self.update_product(ctx, off).await
    }

    /// Creates an inventory location (warehouse or truck). The code is unique.
    async fn create_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: CreateInventoryLocationInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        let s = state(ctx);
        let command = || Ok(NewLocation::from(input));
        let create = move |new| service::create_location(&s.db, new);
        run(ctx, WRITE, command, create, InventoryLocationPayload::from).await
    }

    /// Changes an inventory location.
    async fn update_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: UpdateInventoryLocationInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        let s = state(ctx);
        let command = || input.command();
        let update = move |(id, changes)| service::update_location(&s.db, id, changes);
        run(ctx, WRITE, command, update, InventoryLocationPayload::from).await
    }

    /// Deactivates a location: no new lines, items, transfers or receipts can use it.
    async fn deactivate_inventory_location(
        &self,
        ctx: &Context<'_>,
        input: DeactivateInput,
    ) -> async_graphql::Result<InventoryLocationPayload> {
        let off = UpdateInventoryLocationInput {
            id: input.id,
            active: Some(false),
            ..Default::default()
        };
        self.update_inventory_location(ctx, off).await
    }

    /// Records a job's need for a quantity of a product (NEED_TO_ORDER); a purchase-order line
    /// can then fill it. Needs `purchase_orders:write`.
    async fn create_job_material(
        &self,
        ctx: &Context<'_>,
        input: CreateJobMaterialInput,
    ) -> async_graphql::Result<JobMaterialPayload> {
        let s = state(ctx);
        let command = || NewJobMaterial::try_from(input);
        let create = move |new| service::create_job_material(&s.db, new);
        let payload = JobMaterialPayload::from;
        run(
            ctx,
            Permission::PurchaseOrdersWrite,
            command,
            create,
            payload,
        )
        .await
    }
}

/// The inputs that create a reference record: its number (jobs, projects, technicians) and
/// name.
trait NewReference {
    fn number_and_name(self) -> (Option<String>, String);
}

impl NewReference for CreateNamedRecordInput {
    fn number_and_name(self) -> (Option<String>, String) {
        (None, self.name)
    }
}

impl NewReference for CreateNumberedRecordInput {
    fn number_and_name(self) -> (Option<String>, String) {
        (Some(self.number), self.name)
    }
}

/// The create mutation of a reference record of `kind`.
async fn create_reference<P: Payload>(
    ctx: &Context<'_>,
    kind: ReferenceKind,
    input: impl NewReference,
    payload: impl FnOnce(service::ReferenceRecord) -> P,
) -> async_graphql::Result<P> {
    let s = state(ctx);
    let command = || Ok(input.number_and_name());
    let create = move |(number, name): (Option<String>, String)| async move {
        service::create_reference(&s.db, kind, number.as_deref(), &name).await
    };
    run(ctx, WRITE, command, create, payload).await
}

/// The update mutation of a reference record of `kind` (`type_name` its GraphQL type); the
/// deactivate mutation is one with `active: false` alone.
async fn update_reference<P: Payload>(
    ctx: &Context<'_>,
    (kind, type_name): (ReferenceKind, &str),
    input: UpdateReferenceInput,
    payload: impl FnOnce(service::ReferenceRecord) -> P,
) -> async_graphql::Result<P> {
    let command = || {
        let id = decode_input(&input.id, type_name, "input.id")?;
        Ok((id, input.name, input.active))
    };
    let s = state(ctx);
    let update = move |(id, name, active): (i32, Option<String>, Option<bool>)| async move {
        service::update_reference(&s.db, kind, id, name.as_deref(), active).await
    };
    run(ctx, WRITE, command, update, payload).await
}

/// Declares the create / update / deactivate mutations of one reference kind: only their names,
/// docs and payload differ.
macro_rules! reference_mutations {
    ($(#[$doc:meta])* $object:ident, $create:ident, $update:ident, $deactivate:ident, $input:ty,
     $payload:ident, $field:ident, $ty:ident, $kind:expr,
     $create_doc:literal, $update_doc:literal, $deactivate_doc:literal) => {
        $(#[$doc])*
        #[derive(Default)]
        pub struct $object;

        #[Object]
        impl $object {
            #[doc = $create_doc]
            async fn $create(
                &self,
                ctx: &Context<'_>,
                input: $input,
            ) -> async_graphql::Result<$payload> {
                create_reference(ctx, $kind, input, |r| $payload {
                    $field: Some($ty::from(r)),
                    ..Default::default()
                })
                .await
            }

            #[doc = $update_doc]
            async fn $update(
                &self,
                ctx: &Context<'_>,
                input: UpdateReferenceInput,
            ) -> async_graphql::Result<$payload> {
                let kind = ($kind, stringify!($ty));
                update_reference(ctx, kind, input, |r| $payload {
                    $field: Some($ty::from(r)),
                    ..Default::default()
                })
                .await
            }

            #[doc = $deactivate_doc]
            async fn $deactivate(
                &self,
                ctx: &Context<'_>,
                input: DeactivateInput,
            ) -> async_graphql::Result<$payload> {
                let off = UpdateReferenceInput {
                    id: input.id,
                    name: None,
                    active: Some(false),
                };
                self.$update(ctx, off).await
            }
        }
    };
}

reference_mutations!(
    /// Business-unit mutations.
    BusinessUnitMutation,
    create_business_unit, update_business_unit, deactivate_business_unit,
    CreateNamedRecordInput, BusinessUnitPayload, business_unit, BusinessUnit,
    ReferenceKind::BusinessUnit,
    "Creates a business unit; its name is unique.",
    "Renames, deactivates or reactivates a business unit.",
    "Deactivates a business unit: it stays for history but cannot be used on new purchase orders."
);
reference_mutations!(
    /// Purchase-order-type mutations.
    PurchaseOrderTypeMutation,
    create_purchase_order_type, update_purchase_order_type, deactivate_purchase_order_type,
    CreateNamedRecordInput, PurchaseOrderTypePayload, purchase_order_type, PurchaseOrderType,
    ReferenceKind::PurchaseOrderType,
    "Creates a purchase-order type; its name is unique.",
    "Renames, deactivates or reactivates a purchase-order type.",
    "Deactivates a purchase-order type: it stays for history but cannot be used on new purchase orders."
);
reference_mutations!(
    /// Job mutations.
    JobMutation,
    create_job, update_job, deactivate_job,
    CreateNumberedRecordInput, JobPayload, job, Job,
    ReferenceKind::Job,
    "Creates a job; its number is unique.",
    "Renames, deactivates or reactivates a job.",
    "Deactivates a job; it stays for history."
);
reference_mutations!(
    /// Project mutations.
    ProjectMutation,
    create_project, update_project, deactivate_project,
    CreateNumberedRecordInput, ProjectPayload, project, Project,
    ReferenceKind::Project,
    "Creates a project; its number is unique.",
    "Renames, deactivates or reactivates a project.",
    "Deactivates a project; it stays for history."
);
reference_mutations!(
    /// Technician mutations.
    TechnicianMutation,
    create_technician, update_technician, deactivate_technician,
    CreateNumberedRecordInput, TechnicianPayload, technician, Technician,
    ReferenceKind::Technician,
    "Creates a technician; their number is unique.",
    "Renames, deactivates or reactivates a technician.",
    "Deactivates a technician; they stay for history."
);
