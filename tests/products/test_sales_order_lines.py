"""sales/order_lines: the shop's order lines, typed, with the line amount, every line of a known order."""

from decimal import Decimal

import pytest

from meshwork.model.loader import load_mesh
from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules, with_sibling_input

PRODUCT = "sales/order_lines"
# Lines are checked against their orders (contract foreign key to sales.orders.order_id); the gate
# reads the sibling's table, so the sample declares sales/orders (see with_sibling_input).
ORDERS = {"sales/orders": [{"order_id": 1}, {"order_id": 2}]}


@pytest.fixture(scope="module")
def mesh():
    return with_sibling_input(load_mesh(check_grants=False), PRODUCT, "sales/orders")


def line(order_id: int, line_no: int, quantity: int = 1, unit_price: str = "9.99", sku: str = "SKU-00001") -> dict:
    """A row of the shop's order-line export."""
    return {
        "order_id": order_id,
        "line_no": line_no,
        "sku": sku,
        "quantity": quantity,
        "unit_price": Decimal(unit_price),
    }


def test_lines_get_an_exact_line_amount_and_an_upper_case_sku(mesh):
    run = run_product(
        PRODUCT,
        inputs=ORDERS,
        sources={
            "shop/order_lines": [
                line(1, 1, quantity=3, unit_price="19.99", sku="sku-00042"),
                line(1, 2, quantity=1, unit_price="0.10", sku="Sku-00007"),
                line(2, 1, quantity=7, unit_price="1234.56"),
            ]
        },
        mesh=mesh,
    )

    assert run.passed, run.describe()
    assert by(run.rows, "order_id", "line_no") == [
        {
            "order_id": 1,
            "line_no": 1,
            "sku": "SKU-00042",
            "quantity": 3,
            "unit_price": Decimal("19.99"),
            "line_amount": Decimal("59.97"),
        },
        {
            "order_id": 1,
            "line_no": 2,
            "sku": "SKU-00007",
            "quantity": 1,
            "unit_price": Decimal("0.10"),
            "line_amount": Decimal("0.10"),
        },
        {
            "order_id": 2,
            "line_no": 1,
            "sku": "SKU-00001",
            "quantity": 7,
            "unit_price": Decimal("1234.56"),
            "line_amount": Decimal("8641.92"),
        },
    ]


@pytest.mark.parametrize(
    ("lines", "rule", "description"),
    [
        ([line(1, 1, quantity=0)], "positive_amounts", "Every line sells at least one unit at a positive price"),
        (
            [line(1, 1, unit_price="-2.50")],
            "positive_amounts",
            "Every line sells at least one unit at a positive price",
        ),
        ([line(1, 1), line(1, 1, sku="SKU-00002")], "primary_key.unique", "(order_id, line_no) identifies each row"),
        ([line(3, 1)], "order_id.foreign_key", "every 'order_id' exists in sales/orders"),
    ],
    ids=["no-units", "negative-price", "line-number-twice", "unknown-order"],
)
def test_a_line_the_typing_lets_through_but_the_contract_refuses(mesh, lines, rule, description):
    run = run_product(PRODUCT, inputs=ORDERS, sources={"shop/order_lines": lines}, mesh=mesh)

    assert not run.passed
    assert failed_rules(run) == {rule}
    assert description in run.describe()
