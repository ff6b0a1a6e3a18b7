//! Master-data mutations: create, update, deactivate, and every refusal.

use serde_json::{json, Value};
use stockgraph::auth::Permission;

use crate::helpers::spawn_app;

fn address() -> Value {
    json!({ "street": "1 Main St", "city": "Springfield", "region": "IL", "postalCode": "62701", "country": "US" })
}

const VENDOR: &str = "vendor { id code name active defaultTaxRate paymentTermsDays deliveryMethod \
    currency address { street city region postalCode country } contact { name email phone } }";

#[tokio::test]
async fn vendors_are_created_with_defaults_updated_and_deactivated() {
    let app = spawn_app().await;
    let vendor = app
        .ok(
            "createVendor",
            json!({ "name": " Acme Supply ", "code": "acme-1", "address": address(),
                    "contact": { "name": "Ann", "email": "ann@acme.test" } }),
            VENDOR,
        )
        .await["vendor"]
        .clone();
    assert_eq!(vendor["code"], "ACME-1");
    assert_eq!(vendor["name"], "Acme Supply");
    assert_eq!(vendor["paymentTermsDays"], 30);
    assert_eq!(vendor["currency"], "USD");
    assert_eq!(vendor["deliveryMethod"], "EMAIL");
    assert_eq!(vendor["defaultTaxRate"], "0");
    assert_eq!(vendor["contact"]["email"], "ann@acme.test");
    assert_eq!(vendor["address"]["region"], "IL");
    let updated = app
        .ok(
            "updateVendor",
            json!({ "id": vendor["id"], "name": "Acme", "paymentTermsDays": 45, "deliveryMethod": "PORTAL",
                    "defaultTaxRate": "0.0825", "contact": null }),
            VENDOR,
        )
        .await["vendor"]
        .clone();
    assert_eq!(updated["name"], "Acme");
    assert_eq!(updated["paymentTermsDays"], 45);
    assert_eq!(updated["deliveryMethod"], "PORTAL");
    assert_eq!(updated["defaultTaxRate"], "0.0825");
    assert!(updated["contact"].is_null());
    let off = app
        .ok(
            "deactivateVendor",
            json!({ "id": vendor["id"] }),
            "vendor { active }",
        )
        .await;
    assert_eq!(off["vendor"]["active"], false);
    let on = app
        .ok(
            "updateVendor",
            json!({ "id": vendor["id"], "active": true }),
            "vendor { active }",
        )
        .await;
    assert_eq!(on["vendor"]["active"], true);
}

/// A createVendor input for OTHER with the value at `key` (`outer.inner` for nested fields)
/// replaced.
fn other_vendor_with(key: &str, value: Value) -> Value {
    let mut input = json!({ "name": "Other", "code": "OTHER", "address": address() });
    if let Some((outer, inner)) = key.split_once('.') {
        input[outer][inner] = value;
    } else {
        input[key] = value;
    }
    input
}

#[tokio::test]
async fn a_vendor_code_is_unique_in_any_case() {
    let app = spawn_app().await;
    app.ok(
        "createVendor",
        json!({ "name": "Acme", "code": "ACME", "address": address() }),
        "vendor { id }",
    )
    .await;
    app.assert_each_refused(
        "createVendor",
        vec![(
            other_vendor_with("code", json!("acme")),
            "DUPLICATE_CODE",
            "input.code",
        )],
    )
    .await;
}

#[tokio::test]
async fn bad_vendor_codes_names_and_addresses_are_refused_with_their_field() {
    let app = spawn_app().await;
    let with = other_vendor_with;
    let cases = vec![
        (
            with("code", json!("has space")),
            "INVALID_INPUT",
            "input.code",
        ),
        (with("name", json!("  ")), "INVALID_INPUT", "input.name"),
        (
            with("address.street", json!("")),
            "INVALID_INPUT",
            "input.address.street",
        ),
        (
            with("address.postalCode", json!(" ")),
            "INVALID_INPUT",
            "input.address.postalCode",
        ),
    ];
    app.assert_each_refused("createVendor", cases).await;
}

#[tokio::test]
async fn bad_vendor_tax_rates_terms_currencies_and_emails_are_refused_with_their_field() {
    let app = spawn_app().await;
    let with = other_vendor_with;
    let cases = vec![
        (
            with("defaultTaxRate", json!("1")),
            "INVALID_INPUT",
            "input.defaultTaxRate",
        ),
        (
            with("defaultTaxRate", json!("-0.1")),
            "INVALID_INPUT",
            "input.defaultTaxRate",
        ),
        (
            with("paymentTermsDays", json!(-1)),
            "INVALID_INPUT",
            "input.paymentTermsDays",
        ),
        (
            with("currency", json!("dollars")),
            "INVALID_INPUT",
            "input.currency",
        ),
        (
            with("contact", json!({ "email": "not-an-email" })),
            "INVALID_INPUT",
            "input.contact.email",
        ),
    ];
    app.assert_each_refused("createVendor", cases).await;
}

#[tokio::test]
async fn a_vendor_without_an_address_does_not_even_validate() {
    let app = spawn_app().await;
    let reply = app
        .post(
            &app.admin.clone(),
            "mutation { createVendor(input: { name: \"X\", code: \"X\" }) { vendor { id } } }",
            json!({}),
        )
        .await;
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("address"));
}

#[tokio::test]
async fn updating_an_unknown_vendor_is_not_found_and_writes_nothing() {
    let app = spawn_app().await;
    app.refused(
        "updateVendor",
        json!({ "id": "gid://stockgraph/Vendor/999", "name": "X" }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn deactivating_a_vendor_by_another_types_id_is_an_invalid_id() {
    let app = spawn_app().await;
    app.refused(
        "deactivateVendor",
        json!({ "id": "gid://stockgraph/Product/1" }),
        "INVALID_ID",
    )
    .await;
}

/// Creates vendor ACME and, preferring it, product BOLT-M8 (cost 0.45, allowance 10%);
/// returns the vendor's id and the product.
async fn bolt_of_acme(app: &crate::helpers::TestApp) -> (Value, Value) {
    let vendor = app
        .ok(
            "createVendor",
            json!({ "name": "Acme", "code": "ACME", "address": address() }),
            "vendor { id }",
        )
        .await["vendor"]["id"]
        .clone();
    let product = app
        .ok(
            "createProduct",
            json!({ "sku": "bolt-m8", "description": "Bolt", "defaultUnitCost": "0.4500",
                    "preferredVendorId": vendor, "overReceiptAllowancePercent": "10" }),
            "product { id sku unitOfMeasure defaultUnitCost serialized overReceiptAllowancePercent preferredVendor { id } }",
        )
        .await["product"]
        .clone();
    (vendor, product)
}

#[tokio::test]
async fn a_product_is_created_with_an_upper_case_sku_its_inputs_and_defaults() {
    let app = spawn_app().await;
    let (vendor, product) = bolt_of_acme(&app).await;
    assert_eq!(product["sku"], "BOLT-M8");
    assert_eq!(product["defaultUnitCost"], "0.45");
    assert_eq!(product["unitOfMeasure"], "each");
    assert_eq!(product["serialized"], false);
    assert_eq!(product["overReceiptAllowancePercent"], "10");
    assert_eq!(product["preferredVendor"]["id"], vendor);
}

#[tokio::test]
async fn a_products_preferred_vendor_and_allowance_are_cleared_with_null_and_its_unit_changed() {
    let app = spawn_app().await;
    let (_, product) = bolt_of_acme(&app).await;
    let updated = app
        .ok(
            "updateProduct",
            json!({ "id": product["id"], "preferredVendorId": null, "overReceiptAllowancePercent": null, "unitOfMeasure": "box" }),
            "product { unitOfMeasure overReceiptAllowancePercent preferredVendor { id } }",
        )
        .await["product"]
        .clone();
    assert!(
        updated["preferredVendor"].is_null() && updated["overReceiptAllowancePercent"].is_null()
    );
    assert_eq!(updated["unitOfMeasure"], "box");
}

#[tokio::test]
async fn bad_product_input_is_refused_with_its_field() {
    let app = spawn_app().await;
    bolt_of_acme(&app).await;
    let cases = vec![
        (
            json!({ "sku": "BOLT-M8", "description": "again" }),
            "DUPLICATE_CODE",
            "input.sku",
        ),
        (
            json!({ "sku": "NEG", "description": "x", "defaultUnitCost": "-1" }),
            "INVALID_INPUT",
            "input.defaultUnitCost",
        ),
        (
            json!({ "sku": "PCT", "description": "x", "overReceiptAllowancePercent": "-5" }),
            "INVALID_INPUT",
            "input.overReceiptAllowancePercent",
        ),
        (
            json!({ "sku": "PV", "description": "x", "preferredVendorId": "gid://stockgraph/Vendor/999" }),
            "NOT_FOUND",
            "input.preferredVendorId",
        ),
    ];
    app.assert_each_refused("createProduct", cases).await;
}

#[tokio::test]
async fn a_product_is_deactivated() {
    let app = spawn_app().await;
    let (_, product) = bolt_of_acme(&app).await;
    let off = app
        .ok(
            "deactivateProduct",
            json!({ "id": product["id"] }),
            "product { active }",
        )
        .await;
    assert_eq!(off["product"]["active"], false);
}

/// Creates location TRUCK-7 (given as `truck-7`) without an address.
async fn truck_7(app: &crate::helpers::TestApp) -> Value {
    app.ok(
        "createInventoryLocation",
        json!({ "code": "truck-7", "name": "Truck 7" }),
        "inventoryLocation { id code address { city } }",
    )
    .await["inventoryLocation"]
        .clone()
}

#[tokio::test]
async fn a_location_is_created_with_an_upper_case_code_and_given_an_address_later() {
    let app = spawn_app().await;
    let location = truck_7(&app).await;
    assert_eq!(location["code"], "TRUCK-7");
    assert!(location["address"].is_null());
    let moved = app
        .ok(
            "updateInventoryLocation",
            json!({ "id": location["id"], "address": address() }),
            "inventoryLocation { address { city } }",
        )
        .await;
    assert_eq!(moved["inventoryLocation"]["address"]["city"], "Springfield");
}

#[tokio::test]
async fn a_location_code_is_unique() {
    let app = spawn_app().await;
    truck_7(&app).await;
    app.refused(
        "createInventoryLocation",
        json!({ "code": "TRUCK-7", "name": "dup" }),
        "DUPLICATE_CODE",
    )
    .await;
}

#[tokio::test]
async fn a_location_is_deactivated() {
    let app = spawn_app().await;
    let location = truck_7(&app).await;
    let off = app
        .ok(
            "deactivateInventoryLocation",
            json!({ "id": location["id"] }),
            "inventoryLocation { active }",
        )
        .await;
    assert_eq!(off["inventoryLocation"]["active"], false);
}

#[tokio::test]
async fn reference_records_are_unique_and_deactivated_not_deleted() {
    let app = spawn_app().await;
    for (create, update, deactivate, field, input, key) in [
        (
            "createBusinessUnit",
            "updateBusinessUnit",
            "deactivateBusinessUnit",
            "businessUnit",
            json!({ "name": "HVAC" }),
            "input.name",
        ),
        (
            "createPurchaseOrderType",
            "updatePurchaseOrderType",
            "deactivatePurchaseOrderType",
            "purchaseOrderType",
            json!({ "name": "Job" }),
            "input.name",
        ),
        (
            "createJob",
            "updateJob",
            "deactivateJob",
            "job",
            json!({ "number": "J-7", "name": "Boiler" }),
            "input.number",
        ),
        (
            "createProject",
            "updateProject",
            "deactivateProject",
            "project",
            json!({ "number": "P-7", "name": "Tower" }),
            "input.number",
        ),
        (
            "createTechnician",
            "updateTechnician",
            "deactivateTechnician",
            "technician",
            json!({ "number": "T-7", "name": "Tom" }),
            "input.number",
        ),
    ] {
        let record = app
            .ok(
                create,
                input.clone(),
                &format!("{field} {{ id name active }}"),
            )
            .await[field]
            .clone();
        assert_eq!(record["active"], true);
        assert_eq!(
            app.refused(create, input.clone(), "DUPLICATE_CODE").await,
            key
        );
        let renamed = app
            .ok(
                update,
                json!({ "id": record["id"], "name": "Renamed" }),
                &format!("{field} {{ name }}"),
            )
            .await;
        assert_eq!(renamed[field]["name"], "Renamed");
        let off = app
            .ok(
                deactivate,
                json!({ "id": record["id"] }),
                &format!("{field} {{ active }}"),
            )
            .await;
        assert_eq!(off[field]["active"], false, "{create}");
        app.refused(
            update,
            json!({ "id": record["id"], "name": " " }),
            "INVALID_INPUT",
        )
        .await;
    }
    app.refused(
        "createJob",
        json!({ "number": "", "name": "x" }),
        "INVALID_INPUT",
    )
    .await;
}

#[tokio::test]
async fn master_data_changes_need_vendors_write() {
    let app = spawn_app().await;
    let reader = app.token(&[Permission::VendorsRead]);
    let reply = app
        .post(
            &reader,
            "mutation { createBusinessUnit(input: { name: \"X\" }) { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let writer = app.token(&[Permission::VendorsWrite]);
    let payload = app
        .mutate_as(
            &writer,
            "createBusinessUnit",
            json!({ "name": "X" }),
            "businessUnit { name }",
        )
        .await;
    // Writing does not imply reading: the payload object is null for a write-only token.
    assert_eq!(payload["userErrors"], json!([]));
    assert!(payload["businessUnit"].is_null(), "{payload}");
    let both = app.token(&[Permission::VendorsWrite, Permission::VendorsRead]);
    let payload = app
        .mutate_as(
            &both,
            "createBusinessUnit",
            json!({ "name": "Y" }),
            "businessUnit { name }",
        )
        .await;
    assert_eq!(payload["businessUnit"]["name"], "Y");
}
