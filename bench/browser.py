"""What the browser benchmarks share: a free loopback port for the portal, headless Chromium, sign-in."""
from __future__ import annotations

import socket

from selenium import webdriver
from selenium.webdriver.common.by import By


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-background-networking"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


def sign_in(driver: webdriver.Chrome, base: str, email: str, password: str) -> None:
    """Through the portal's real sign-in form."""
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "login-email").send_keys(email)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
