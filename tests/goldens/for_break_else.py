def execute_command(image):
    image_patch = ImagePatch(image)
    found = None
    for car in image_patch.find("car"):
        if car.verify_property("car", "red"):
            found = car
            break
    else:
        return "no red car"
    return found.simple_query("What brand is this car?")
